/**
 * The ONNX graph of a BertForSequenceClassification, laid out as torch.onnx exports it at opset 17 (node names
 * included), so that onnxruntime's optimizer meets the patterns of a real export and rewrites it the same way.
 * Measured with onnxruntime-node 1.30 at graphOptimizationLevel 'all': bias + GELU become BiasGelu, the attention
 * scale folds into FusedMatMul, the pooler becomes Gemm. Attention and SkipLayerNormalization are not fused, as
 * for real exports with dynamic axes: onnxruntime's fusions want opset <= 12 Unsqueeze nodes and static sequence
 * lengths. Forcing the Attention fusion (an opset 12 variant) made no measurable difference at this size.
 *
 * Inputs input_ids, attention_mask, token_type_ids: int64 [batch_size, sequence_length]; output logits: float32
 * [batch_size, 1]. Initializers carry the HF state-dict names; see weights.ts for their layout.
 */
import { LAYER_NORM_EPS, type BertDims } from './arch.ts';
import { float, GraphBuilder, int, ints, FLOAT, INT64, type TensorSignature } from './onnx-builder.ts';
import type { NamedTensor } from './weights.ts';

export const OPSET_VERSION = 17;
export const INPUT_NAMES = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export const OUTPUT_NAME = 'logits';

/**
 * Added to the attention scores of padding: the constant of HF's BERT before it moved to float32's minimum. Either
 * way softmax gives padding a weight of exactly 0 in float32.
 */
const MASK_FILL = -10000;

type ConstantName = 'index0' | 'index1' | 'axes0' | 'axes1' | 'axes2' | 'one' | 'half' | 'sqrt2' | 'maskFill' | 'scale';

class BertGraph {
  private readonly g = new GraphBuilder();
  private readonly weights: Map<string, NamedTensor>;
  /** Initializer names of the small constants the graph shares between layers. */
  private readonly constants: Record<ConstantName, string>;

  constructor(
    private readonly dims: BertDims,
    weights: NamedTensor[],
  ) {
    this.weights = new Map(weights.map((w) => [w.name, w]));
    const headSize = dims.hiddenSize / dims.numHeads;
    this.constants = {
      index0: this.g.int64Tensor('/Constant_index_0', [], [0]),
      index1: this.g.int64Tensor('/Constant_index_1', [], [1]),
      axes0: this.g.int64Tensor('/Constant_axes_0', [1], [0]),
      axes1: this.g.int64Tensor('/Constant_axes_1', [1], [1]),
      axes2: this.g.int64Tensor('/Constant_axes_2', [1], [2]),
      one: this.g.floatScalar('/Constant_one', 1),
      half: this.g.floatScalar('/Constant_half', 0.5),
      sqrt2: this.g.floatScalar('/Constant_sqrt2', Math.SQRT2),
      maskFill: this.g.floatScalar('/Constant_mask_fill', MASK_FILL),
      scale: this.g.floatScalar('/Constant_attention_scale', Math.sqrt(headSize)),
    };
  }

  /** Registers the named weight as an initializer and returns its name. */
  private weight(name: string): string {
    const tensor = this.weights.get(name);
    if (!tensor) throw new Error(`missing weight ${name}`);
    return this.g.floatTensor(tensor.name, tensor.dims, tensor.data);
  }

  private linear(scope: string, input: string, weight: string): string {
    const product = this.g.node(`${scope}/MatMul`, 'MatMul', [input, this.weight(`${weight}.weight`)]);
    // bias second: onnxruntime's fusions look for Add(MatMul, bias)
    return this.g.node(`${scope}/Add`, 'Add', [product, this.weight(`${weight}.bias`)]);
  }

  private layerNorm(scope: string, input: string, weight: string): string {
    const inputs = [input, this.weight(`${weight}.weight`), this.weight(`${weight}.bias`)];
    return this.g.node(`${scope}/LayerNormalization`, 'LayerNormalization', inputs, {
      axis: int(-1),
      epsilon: float(LAYER_NORM_EPS),
    });
  }

  /** Rows of the embedding table `table` picked by the int64 ids in `ids`. */
  private lookup(scope: string, table: string, ids: string): string {
    return this.g.node(`${scope}/Gather`, 'Gather', [this.weight(`bert.embeddings.${table}.weight`), ids]);
  }

  private embeddings(): string {
    const g = this.g;
    const scope = '/bert/embeddings';
    const { maxPositions } = this.dims;
    const allPositions = Array.from({ length: maxPositions }, (_, i) => i);
    const positionIds = g.int64Tensor('bert.embeddings.position_ids', [1, maxPositions], allPositions);
    const words = this.lookup(`${scope}/word_embeddings`, 'word_embeddings', 'input_ids');
    const types = this.lookup(`${scope}/token_type_embeddings`, 'token_type_embeddings', 'token_type_ids');
    // position_ids[:, :seq_len], seq_len read from input_ids at run time
    const shape = g.node(`${scope}/Shape`, 'Shape', ['input_ids']);
    const seqLen = g.node(`${scope}/Gather`, 'Gather', [shape, this.constants.index1], { axis: int(0) });
    const end = g.node(`${scope}/Unsqueeze`, 'Unsqueeze', [seqLen, this.constants.axes0]);
    const start = g.int64Tensor('/bert/embeddings/Constant_start', [1], [0]);
    const ids = g.node(`${scope}/Slice`, 'Slice', [positionIds, start, end, this.constants.axes1]);
    const positions = this.lookup(`${scope}/position_embeddings`, 'position_embeddings', ids);
    const sum = g.node(`${scope}/Add`, 'Add', [words, types]);
    const all = g.node(`${scope}/Add_1`, 'Add', [sum, positions]);
    return this.layerNorm(`${scope}/LayerNorm`, all, 'bert.embeddings.LayerNorm');
  }

  /** (1 - mask) * -10000, shaped [batch, 1, 1, seq] to broadcast over heads and query positions. */
  private extendedMask(): string {
    const g = this.g;
    const withHeads = g.node('/bert/Unsqueeze', 'Unsqueeze', ['attention_mask', this.constants.axes1]);
    const withQueries = g.node('/bert/Unsqueeze_1', 'Unsqueeze', [withHeads, this.constants.axes2]);
    const asFloat = g.node('/bert/Cast', 'Cast', [withQueries], { to: int(FLOAT) });
    const inverted = g.node('/bert/Sub', 'Sub', [this.constants.one, asFloat]);
    return g.node('/bert/Mul', 'Mul', [inverted, this.constants.maskFill]);
  }

  /**
   * Projects `input` with the linear layer `weight` and splits it into heads: [batch, heads, seq, size] for perm
   * 0,2,1,3, or [batch, heads, size, seq] for 0,2,3,1 (keys, ready to multiply with the queries).
   */
  private heads(scope: string, input: string, weight: string, perm: number[]): string {
    const headSize = this.dims.hiddenSize / this.dims.numHeads;
    const projected = this.linear(scope, input, weight);
    const shape = this.g.int64Tensor(`${scope}/Constant_shape`, [4], [0, 0, this.dims.numHeads, headSize]);
    const split = this.g.node(`${scope}/Reshape`, 'Reshape', [projected, shape]);
    return this.g.node(`${scope}/Transpose`, 'Transpose', [split], { perm: ints(...perm) });
  }

  private attention(prefix: string, scope: string, input: string, mask: string): string {
    const g = this.g;
    const self = `${scope}/attention/self`;
    const weights = `${prefix}.attention.self`;
    const q = this.heads(`${self}/query`, input, `${weights}.query`, [0, 2, 1, 3]);
    const k = this.heads(`${self}/key`, input, `${weights}.key`, [0, 2, 3, 1]);
    const v = this.heads(`${self}/value`, input, `${weights}.value`, [0, 2, 1, 3]);
    const scores = g.node(`${self}/MatMul`, 'MatMul', [q, k]);
    const scaled = g.node(`${self}/Div`, 'Div', [scores, this.constants.scale]);
    const masked = g.node(`${self}/Add`, 'Add', [scaled, mask]);
    const probs = g.node(`${self}/Softmax`, 'Softmax', [masked], { axis: int(-1) });
    const context = g.node(`${self}/MatMul_1`, 'MatMul', [probs, v]);
    const merged = g.node(`${self}/Transpose`, 'Transpose', [context], { perm: ints(0, 2, 1, 3) });
    const shape = g.int64Tensor(`${self}/Constant_shape`, [3], [0, 0, this.dims.hiddenSize]);
    const flat = g.node(`${self}/Reshape`, 'Reshape', [merged, shape]);
    const out = `${scope}/attention/output`;
    const projected = this.linear(`${out}/dense`, flat, `${prefix}.attention.output.dense`);
    const residual = g.node(`${out}/Add`, 'Add', [projected, input]);
    return this.layerNorm(`${out}/LayerNorm`, residual, `${prefix}.attention.output.LayerNorm`);
  }

  /** GELU in its exact erf form: x * 0.5 * (1 + erf(x / sqrt(2))). */
  private gelu(scope: string, x: string): string {
    const g = this.g;
    const scaled = g.node(`${scope}/Div`, 'Div', [x, this.constants.sqrt2]);
    const erf = g.node(`${scope}/Erf`, 'Erf', [scaled]);
    const shifted = g.node(`${scope}/Add`, 'Add', [erf, this.constants.one]);
    const product = g.node(`${scope}/Mul`, 'Mul', [x, shifted]);
    return g.node(`${scope}/Mul_1`, 'Mul', [product, this.constants.half]);
  }

  private encoderLayer(index: number, input: string, mask: string): string {
    const prefix = `bert.encoder.layer.${index}`;
    const scope = `/bert/encoder/layer.${index}`;
    const attended = this.attention(prefix, scope, input, mask);
    const expanded = this.linear(`${scope}/intermediate/dense`, attended, `${prefix}.intermediate.dense`);
    const activated = this.gelu(`${scope}/intermediate/intermediate_act_fn`, expanded);
    const reduced = this.linear(`${scope}/output/dense`, activated, `${prefix}.output.dense`);
    const residual = this.g.node(`${scope}/output/Add`, 'Add', [reduced, attended]);
    return this.layerNorm(`${scope}/output/LayerNorm`, residual, `${prefix}.output.LayerNorm`);
  }

  /** Pooler (dense + tanh on the [CLS] position) and the classifier producing one logit per row. */
  private head(hidden: string): string {
    const g = this.g;
    const cls = g.node('/bert/pooler/Gather', 'Gather', [hidden, this.constants.index0], { axis: int(1) });
    const dense = this.linear('/bert/pooler/dense', cls, 'bert.pooler.dense');
    const pooled = g.node('/bert/pooler/activation/Tanh', 'Tanh', [dense]);
    const product = g.node('/classifier/MatMul', 'MatMul', [pooled, this.weight('classifier.weight')]);
    return g.node('/classifier/Add', 'Add', [product, this.weight('classifier.bias')], {}, OUTPUT_NAME);
  }

  build(producerVersion: string, docString: string): Uint8Array {
    let hidden = this.embeddings();
    const mask = this.extendedMask();
    for (let i = 0; i < this.dims.numLayers; i++) hidden = this.encoderLayer(i, hidden, mask);
    this.head(hidden);
    const io = (name: string, elemType: TensorSignature['elemType'], last: string | number): TensorSignature => ({
      name,
      elemType,
      dims: ['batch_size', last],
    });
    return this.g.encode(
      'main_graph',
      INPUT_NAMES.map((name) => io(name, INT64, 'sequence_length')),
      [io(OUTPUT_NAME, FLOAT, 1)],
      { opsetVersion: OPSET_VERSION, producerName: 'rerank-queue synthetic-model', producerVersion, docString },
    );
  }
}

export interface BertOnnxSpec {
  dims: BertDims;
  weights: NamedTensor[];
  /** Recorded in the model's producer_version. */
  producerVersion: string;
  /** Recorded in the model's doc_string. */
  docString: string;
}

/** Encodes the ONNX model of a BERT cross-encoder with the given dimensions and weights. */
export function buildBertOnnx(spec: BertOnnxSpec): Uint8Array {
  return new BertGraph(spec.dims, spec.weights).build(spec.producerVersion, spec.docString);
}
