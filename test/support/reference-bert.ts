/**
 * An independent float64 forward pass of a BertForSequenceClassification, to check ONNX Runtime and the engine
 * against. It reads only config.json and the initializers of onnx/model.onnx (by their HF state-dict names;
 * linear weights [in, out]) and shares no code with the generator or the worker, so a bug in either shows up
 * as a disagreement rather than being copied into the expected values.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

export interface ReferenceInput {
  inputIds: readonly number[];
  tokenTypeIds: readonly number[];
  /** 1 for tokens, 0 for padding; default all ones. */
  attentionMask?: readonly number[];
}

export interface ReferenceConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
}

export interface ReferenceModel {
  readonly config: ReferenceConfig;
  /** The classifier logit of one sequence. */
  logit(input: ReferenceInput): number;
  /** Logits of a batch padded to its longest row ([PAD] id 0, type 0, mask 0), as an engine would run it. */
  logits(batch: readonly ReferenceInput[]): number[];
}

/** HF BERT's additive mask for padding: scores + (1 - mask) * -10000. */
const MASK_FILL = -10000;

type Vec = Float64Array;
type Weights = Map<string, { dims: number[]; data: Float32Array }>;

function readConfig(dir: string): ReferenceConfig {
  const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const num = (key: string): number => {
    const value = raw[key];
    if (typeof value !== 'number') throw new Error(`config.json: ${key} is not a number`);
    return value;
  };
  if (raw.hidden_act !== 'gelu') throw new Error(`config.json: hidden_act ${String(raw.hidden_act)} is not supported`);
  return {
    vocabSize: num('vocab_size'),
    hiddenSize: num('hidden_size'),
    numLayers: num('num_hidden_layers'),
    numHeads: num('num_attention_heads'),
    intermediateSize: num('intermediate_size'),
    maxPositions: num('max_position_embeddings'),
    typeVocabSize: num('type_vocab_size'),
    layerNormEps: num('layer_norm_eps'),
  };
}

function readWeights(modelPath: string): Weights {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(modelPath));
  const weights: Weights = new Map();
  for (const tensor of model.graph?.initializer ?? []) {
    if (tensor.dataType !== onnxProto.onnx.TensorProto.DataType.FLOAT || !tensor.name) continue;
    const dims = (tensor.dims ?? []).map(Number); // int64 dims decode as Long objects
    const raw = tensor.rawData ?? new Uint8Array();
    // Copied: decoded bytes may sit at an offset a Float32Array cannot start at.
    const data =
      raw.length > 0 ? new Float32Array(new Uint8Array(raw).buffer) : Float32Array.from(tensor.floatData ?? []);
    weights.set(tensor.name, { dims, data });
  }
  return weights;
}

/** erf to ~1e-15: its Taylor series near 0, the continued fraction of erfc further out (JS has no Math.erf). */
function erf(x: number): number {
  const ax = Math.abs(x);
  let value: number;
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    value = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let fraction = ax;
    for (let n = 80; n >= 1; n--) fraction = ax + n / 2 / fraction;
    value = 1 - Math.exp(-ax * ax) / (Math.sqrt(Math.PI) * fraction);
  }
  return x < 0 ? -value : value;
}

function createModel(config: ReferenceConfig, weights: Weights): ReferenceModel {
  const H = config.hiddenSize;
  const weight = (name: string, dims: number[]): Float32Array => {
    const tensor = weights.get(name);
    if (!tensor) throw new Error(`model.onnx has no initializer ${name}`);
    if (tensor.dims.join() !== dims.join()) throw new Error(`${name}: dims [${tensor.dims}], expected [${dims}]`);
    return tensor.data;
  };

  /** rows x inputs times the [inputs, outputs] weight of `name`, plus its bias. */
  const linear = (x: Vec, rows: number, inputs: number, outputs: number, name: string): Vec => {
    const w = weight(`${name}.weight`, [inputs, outputs]);
    const b = weight(`${name}.bias`, [outputs]);
    const out = new Float64Array(rows * outputs);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < outputs; o++) {
        let sum = b[o]!;
        for (let i = 0; i < inputs; i++) sum += x[r * inputs + i]! * w[i * outputs + o]!;
        out[r * outputs + o] = sum;
      }
    }
    return out;
  };

  const layerNorm = (x: Vec, rows: number, name: string): Vec => {
    const gamma = weight(`${name}.weight`, [H]);
    const beta = weight(`${name}.bias`, [H]);
    const out = new Float64Array(x.length);
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * H, (r + 1) * H);
      const mean = row.reduce((a, v) => a + v, 0) / H;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / H;
      const inv = 1 / Math.sqrt(variance + config.layerNormEps);
      for (let i = 0; i < H; i++) out[r * H + i] = (row[i]! - mean) * inv * gamma[i]! + beta[i]!;
    }
    return out;
  };

  const add = (a: Vec, b: Vec): Vec => a.map((v, i) => v + b[i]!);

  const embeddings = (input: ReferenceInput, S: number): Vec => {
    const words = weight('bert.embeddings.word_embeddings.weight', [config.vocabSize, H]);
    const positions = weight('bert.embeddings.position_embeddings.weight', [config.maxPositions, H]);
    const types = weight('bert.embeddings.token_type_embeddings.weight', [config.typeVocabSize, H]);
    const x = new Float64Array(S * H);
    for (let s = 0; s < S; s++) {
      const id = input.inputIds[s]!;
      const type = input.tokenTypeIds[s]!;
      if (!(id >= 0 && id < config.vocabSize)) throw new RangeError(`token id ${id} outside the vocabulary`);
      if (!(type >= 0 && type < config.typeVocabSize)) throw new RangeError(`token type ${type} out of range`);
      for (let i = 0; i < H; i++) x[s * H + i] = words[id * H + i]! + types[type * H + i]! + positions[s * H + i]!;
    }
    return layerNorm(x, S, 'bert.embeddings.LayerNorm');
  };

  const selfAttention = (x: Vec, S: number, mask: readonly number[], prefix: string): Vec => {
    const q = linear(x, S, H, H, `${prefix}.query`);
    const k = linear(x, S, H, H, `${prefix}.key`);
    const v = linear(x, S, H, H, `${prefix}.value`);
    const heads = config.numHeads;
    const d = H / heads;
    const context = new Float64Array(S * H);
    const scores = new Float64Array(S);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < S; i++) {
        let max = -Infinity;
        for (let j = 0; j < S; j++) {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += q[i * H + h * d + c]! * k[j * H + h * d + c]!;
          scores[j] = dot / Math.sqrt(d) + (1 - mask[j]!) * MASK_FILL;
          max = Math.max(max, scores[j]!);
        }
        let total = 0;
        for (let j = 0; j < S; j++) total += scores[j] = Math.exp(scores[j]! - max);
        for (let j = 0; j < S; j++) {
          const p = scores[j]! / total;
          for (let c = 0; c < d; c++) context[i * H + h * d + c]! += p * v[j * H + h * d + c]!;
        }
      }
    }
    return context;
  };

  const encoderLayer = (x: Vec, S: number, mask: readonly number[], index: number): Vec => {
    const prefix = `bert.encoder.layer.${index}`;
    const context = selfAttention(x, S, mask, `${prefix}.attention.self`);
    const projected = linear(context, S, H, H, `${prefix}.attention.output.dense`);
    const attended = layerNorm(add(projected, x), S, `${prefix}.attention.output.LayerNorm`);
    const I = config.intermediateSize;
    const expanded = linear(attended, S, H, I, `${prefix}.intermediate.dense`);
    const activated = expanded.map((u) => 0.5 * u * (1 + erf(u / Math.SQRT2)));
    const reduced = linear(activated, S, I, H, `${prefix}.output.dense`);
    return layerNorm(add(reduced, attended), S, `${prefix}.output.LayerNorm`);
  };

  const logit = (input: ReferenceInput): number => {
    const S = input.inputIds.length;
    const mask = input.attentionMask ?? new Array<number>(S).fill(1);
    if (input.tokenTypeIds.length !== S || mask.length !== S) throw new Error('input arrays differ in length');
    if (S > config.maxPositions) throw new RangeError(`${S} tokens exceed ${config.maxPositions} positions`);
    let x = embeddings(input, S);
    for (let l = 0; l < config.numLayers; l++) x = encoderLayer(x, S, mask, l);
    const pooled = linear(x.subarray(0, H), 1, H, H, 'bert.pooler.dense').map(Math.tanh);
    return linear(pooled, 1, H, 1, 'classifier')[0]!;
  };

  const logits = (batch: readonly ReferenceInput[]): number[] => {
    const longest = Math.max(...batch.map((row) => row.inputIds.length));
    const pad = (values: readonly number[]) => [...values, ...new Array<number>(longest - values.length).fill(0)];
    return batch.map((row) =>
      logit({
        inputIds: pad(row.inputIds),
        tokenTypeIds: pad(row.tokenTypeIds),
        attentionMask: pad(row.attentionMask ?? new Array<number>(row.inputIds.length).fill(1)),
      }),
    );
  };

  return { config, logit, logits };
}

/** Loads config.json and onnx/model.onnx from a model directory in HF layout. */
export function loadReferenceModel(dir: string): ReferenceModel {
  return createModel(readConfig(dir), readWeights(join(dir, 'onnx', 'model.onnx')));
}
