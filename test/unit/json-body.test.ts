/**
 * The incremental JSON body parser (api/json-body.ts) against JSON.parse: the same values, the same texts refused,
 * however the bytes are split into chunks (multi-byte characters cut in two included).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IncrementalJson } from '../../api/json-body.ts';
import { ServiceError } from '../../shared/errors.ts';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u0000', 'é', '漢', '😀', '\ud800', '\udfff', '__proto__', 'constructor', '{', ']'];

function value(next: () => number, depth: number): unknown {
  const pick = Math.floor(next() * (depth > 3 ? 5 : 7));
  const text = () => Array.from({ length: Math.floor(next() * 6) }, () => PIECES[Math.floor(next() * PIECES.length)]).join('');
  switch (pick) {
    case 0: return text();
    case 1: return [0, -0, 1.5, -1e-7, 12345678901234567890, 1e300, 3][Math.floor(next() * 7)];
    case 2: return [true, false, null][Math.floor(next() * 3)];
    case 3: return text();
    case 4: return Math.floor(next() * 1000);
    case 5: return Array.from({ length: Math.floor(next() * 4) }, () => value(next, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(next() * 4); i > 0; i--) Object.defineProperty(object, text(), { value: value(next, depth + 1), enumerable: true, configurable: true, writable: true });
      return object;
    }
  }
}

/** The text fed in chunks cut at random byte offsets: the parsed value, or the error's code. */
function parseInChunks(bytes: Buffer, next: () => number): { value: unknown } | { error: string } {
  const json = new IncrementalJson();
  try {
    for (let start = 0; start < bytes.length; ) {
      const end = Math.min(bytes.length, start + 1 + Math.floor(next() * 8));
      json.write(bytes.subarray(start, end));
      start = end;
    }
    return { value: json.value() };
  } catch (error) {
    assert.ok(error instanceof ServiceError, String(error));
    return { error: error.code };
  }
}

/** What the whole-body way gave: the bytes decoded as UTF-8 (a raw lone surrogate arrives as U+FFFD), then parsed. */
function native(bytes: Buffer): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(bytes.toString('utf8')) };
  } catch {
    return { error: 'INVALID_JSON' };
  }
}

test('valid JSON in random chunks parses to what JSON.parse gives, __proto__ keys included', () => {
  const next = random(42);
  for (let i = 0; i < 2_000; i++) {
    const text = JSON.stringify(value(next, 0), null, i % 3 === 0 ? 1 : undefined);
    assert.deepStrictEqual(parseInChunks(Buffer.from(text), next), native(Buffer.from(text)), text);
  }
  const proto = parseInChunks(Buffer.from('{"__proto__":{"polluted":1}}'), next) as { value: object };
  assert.deepEqual(Object.keys(proto.value), ['__proto__']);
  assert.equal(Object.getPrototypeOf(proto.value), Object.prototype);
});

test('damaged JSON is refused exactly when JSON.parse refuses it', () => {
  const next = random(7);
  let refused = 0;
  for (let i = 0; i < 2_000; i++) {
    const text = JSON.stringify(value(next, 0));
    const at = Math.floor(next() * (text.length + 1));
    const damaged = [
      text.slice(0, at), // cut short
      text.slice(0, at) + ',]}"x'[Math.floor(next() * 5)] + text.slice(at), // a stray character
      `${text} ${text}`, // two values
    ][i % 3]!;
    const bytes = Buffer.from(damaged);
    const expected = native(bytes);
    if ('error' in expected) refused += 1;
    assert.deepStrictEqual(parseInChunks(bytes, next), expected, damaged);
  }
  assert.ok(refused > 1_000, `only ${refused} of the damaged texts were invalid`);
});

test('an empty or blank body is INVALID_JSON "empty"; whitespace around a value is fine', () => {
  for (const blank of ['', '   ', '\n\t ']) {
    const json = new IncrementalJson();
    if (blank) json.write(blank);
    assert.throws(() => json.value(), (error: unknown) => error instanceof ServiceError && /empty/.test(error.message));
  }
  const json = new IncrementalJson();
  json.write(' {"a": [1, "b"]} ');
  json.write('\n');
  assert.deepEqual(json.value(), { a: [1, 'b'] });
});

test('a body that is not valid UTF-8 is INVALID_JSON (RFC 8259), not text with replacement characters', () => {
  for (const bytes of [[0x22, 0xff, 0x22], [0x22, 0xe6, 0xbc, 0x22], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xc0, 0xaf, 0x22]]) {
    const json = new IncrementalJson();
    assert.throws(() => {
      json.write(Buffer.from(bytes));
      json.value();
    }, (error: unknown) => error instanceof ServiceError && error.code === 'INVALID_JSON');
  }
});
