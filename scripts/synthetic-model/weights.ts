/**
 * The weights of a BertForSequenceClassification, named as in its HuggingFace state dict and drawn from the seeded
 * generator. Linear weights are stored [in, out], the layout ONNX MatMul takes (PyTorch keeps them [out, in]).
 */
import type { BertDims } from './arch.ts';
import { createStream, fillNormal } from './prng.ts';

export interface NamedTensor {
  name: string;
  dims: number[];
  data: Float32Array;
}

interface WeightSpec {
  name: string;
  dims: number[];
  mean: number;
  std: number;
}

/** BERT's initializer_range, used for embeddings, biases and LayerNorm jitter. */
const INIT_STD = 0.02;

/**
 * Linear weights get std 1/sqrt(fan_in) rather than BERT's 0.02. With 0.02 an untrained network barely mixes
 * tokens: the [CLS] state hardly depends on the text, and every logit lands within ~0.01 of the others, too
 * close for tests to tell inputs apart. At 1/sqrt(fan_in) each layer keeps its signal and logits differ by tenths.
 */
function linear(prefix: string, inputs: number, outputs: number): WeightSpec[] {
  return [
    { name: `${prefix}.weight`, dims: [inputs, outputs], mean: 0, std: 1 / Math.sqrt(inputs) },
    { name: `${prefix}.bias`, dims: [outputs], mean: 0, std: INIT_STD },
  ];
}

/** gamma near 1 and beta near 0, but not exactly, so a test would notice either one being ignored. */
function layerNorm(prefix: string, size: number): WeightSpec[] {
  return [
    { name: `${prefix}.weight`, dims: [size], mean: 1, std: INIT_STD },
    { name: `${prefix}.bias`, dims: [size], mean: 0, std: INIT_STD },
  ];
}

function encoderLayer(index: number, dims: BertDims): WeightSpec[] {
  const prefix = `bert.encoder.layer.${index}`;
  const { hiddenSize: h, intermediateSize: inter } = dims;
  return [
    ...linear(`${prefix}.attention.self.query`, h, h),
    ...linear(`${prefix}.attention.self.key`, h, h),
    ...linear(`${prefix}.attention.self.value`, h, h),
    ...linear(`${prefix}.attention.output.dense`, h, h),
    ...layerNorm(`${prefix}.attention.output.LayerNorm`, h),
    ...linear(`${prefix}.intermediate.dense`, h, inter),
    ...linear(`${prefix}.output.dense`, inter, h),
    ...layerNorm(`${prefix}.output.LayerNorm`, h),
  ];
}

function weightSpecs(dims: BertDims, vocabSize: number): WeightSpec[] {
  const h = dims.hiddenSize;
  const layers = Array.from({ length: dims.numLayers }, (_, i) => encoderLayer(i, dims));
  return [
    { name: 'bert.embeddings.word_embeddings.weight', dims: [vocabSize, h], mean: 0, std: INIT_STD },
    { name: 'bert.embeddings.position_embeddings.weight', dims: [dims.maxPositions, h], mean: 0, std: INIT_STD },
    { name: 'bert.embeddings.token_type_embeddings.weight', dims: [dims.typeVocabSize, h], mean: 0, std: INIT_STD },
    ...layerNorm('bert.embeddings.LayerNorm', h),
    ...layers.flat(),
    ...linear('bert.pooler.dense', h, h),
    ...linear('classifier', h, 1),
  ];
}

/** All weights of the model, in state-dict order; the same (dims, vocabSize, seed) give the same numbers. */
export function generateWeights(dims: BertDims, vocabSize: number, seed: number): NamedTensor[] {
  return weightSpecs(dims, vocabSize).map((spec) => {
    const size = spec.dims.reduce((a, b) => a * b, 1);
    const data = fillNormal(new Float32Array(size), createStream(seed, spec.name), spec.mean, spec.std);
    return { name: spec.name, dims: spec.dims, data };
  });
}
