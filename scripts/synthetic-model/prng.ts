/**
 * Seeded pseudo-random numbers for generated weights. Math.random cannot be seeded, and generated models must be
 * byte-identical for the same seed, so the generator is our own: sfc32, seeded through splitmix32.
 *
 * Each tensor draws from its own stream, keyed by (seed, tensor name): a tensor's values do not depend on which
 * tensors were generated before it, so adding a tensor or changing one shape leaves the others unchanged.
 */

/** Returns uniform floats in [0, 1) with 32 bits of randomness. */
export type UniformSource = () => number;

/** FNV-1a over the UTF-16 code units of `text`: a stable 32-bit key for a stream name. */
function hashName(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  return hash >>> 0;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A uniform source for the stream `name` under `seed`. */
export function createStream(seed: number, name: string): UniformSource {
  const init = splitmix32(hashName(`${seed}:${name}`));
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const next = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  // sfc32's first outputs still show the seed's structure; its author's seeding routine discards 12 of them too.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/**
 * Fills `out` with normal(mean, std) samples (Box-Muller). V8 computes Math.log/cos/sqrt with its port of fdlibm,
 * so the samples are the same on every machine.
 */
export function fillNormal(out: Float32Array, uniform: UniformSource, mean: number, std: number): Float32Array {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - uniform(); // (0, 1]: log(0) would be -Infinity
    const u2 = uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] = mean + std * radius * Math.sin(2 * Math.PI * u2);
  }
  return out;
}
