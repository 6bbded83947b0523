/**
 * Nesting depth of a JSON text, measured chunk by chunk as the body arrives, before anything is parsed: one pass
 * over the bytes, constant memory, so a body nested a million deep is refused after a few bytes instead of
 * costing JSON.parse and the schema validator time and memory proportional to its depth. Works on UTF-8 bytes:
 * every byte it looks at ('"', '\\', brackets) is ASCII, and bytes of multi-byte characters are all >= 0x80.
 * It does not validate JSON (JSON.parse still does); it only tracks strings, so brackets inside them don't count.
 */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

export class JsonDepthScanner {
  private depth = 0;
  private inString = false;
  /** The last chunk ended on a backslash inside a string: the next byte is escaped. */
  private escapePending = false;

  constructor(private readonly maxDepth: number) {}

  /** Scans the next chunk; false as soon as the nesting exceeds maxDepth. */
  push(chunk: Uint8Array): boolean {
    let i = 0;
    if (this.escapePending) {
      this.escapePending = false;
      i = 1;
    }
    // Where the next backslash is, found once per chunk region rather than once per string.
    let nextBackslash = -1;
    const length = chunk.length;
    while (i < length) {
      if (this.inString) {
        if (nextBackslash < i) nextBackslash = indexOrEnd(chunk, BACKSLASH, i);
        const quote = indexOrEnd(chunk, QUOTE, i);
        if (nextBackslash < quote) {
          i = nextBackslash + 2; // skip the escaped byte (of \" or \\; \uXXXX's hex digits are harmless)
          if (i > length) this.escapePending = true;
          continue;
        }
        if (quote === length) return true; // the string goes on in the next chunk
        this.inString = false;
        i = quote + 1;
        continue;
      }
      const byte = chunk[i];
      if (byte === QUOTE) this.inString = true;
      else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) {
        if (++this.depth > this.maxDepth) return false;
      } else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) this.depth -= 1;
      i += 1;
    }
    return true;
  }
}

function indexOrEnd(chunk: Uint8Array, byte: number, from: number): number {
  const index = chunk.indexOf(byte, from);
  return index === -1 ? chunk.length : index;
}
