/**
 * Dynamic int8 quantization of an fp32 ONNX graph, the scheme onnxruntime's `quantize_dynamic` uses for
 * transformer encoders: every MatMul (or Gemm) whose weight is a constant 2-D float matrix becomes
 *
 *   DynamicQuantizeLinear(x) -> MatMulInteger(x_u8, W_s8, x_zp, W_zp) -> Cast(float) -> Mul(x_scale * W_scale)
 *
 * with W quantized once, symmetrically, per output column (int8, zero point 0), and the activations quantized at
 * run time per tensor (uint8). ONNX Runtime fuses that chain into one DynamicQuantizeMatMul kernel (u8s8, the
 * AVX2/VNNI path). Activation-by-activation MatMuls (attention scores) stay fp32.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type ModelProto = onnxProto.onnx.IModelProto;
type NodeProto = onnxProto.onnx.INodeProto;
type TensorProto = onnxProto.onnx.ITensorProto;

const { DataType } = onnx.TensorProto;
const { AttributeType } = onnx.AttributeProto;

export interface QuantizeSummary {
  /** Weight matrices quantized, and the nodes left in fp32 because their second input is not a constant. */
  quantized: number;
  skipped: number;
  bytesBefore: number;
  bytesAfter: number;
}

/** Float values of an initializer, whether stored as raw little-endian bytes or as float_data. */
function floatValues(tensor: TensorProto): Float32Array {
  const raw = tensor.rawData;
  if (raw && raw.length > 0) {
    const copy = new Uint8Array(raw); // aligned copy: raw_data may sit at any offset of the decoded buffer
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return Float32Array.from(tensor.floatData ?? []);
}

/** Per-column symmetric int8: q[k][n] = round(w[k][n] / scale[n]), scale[n] = max_k |w[k][n]| / 127. */
export function quantizeColumns(weights: Float32Array, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const scales = new Float32Array(cols);
  for (let k = 0; k < rows; k++) {
    for (let n = 0; n < cols; n++) scales[n] = Math.max(scales[n]!, Math.abs(weights[k * cols + n]!));
  }
  for (let n = 0; n < cols; n++) scales[n] = scales[n]! > 0 ? scales[n]! / 127 : 1;
  const q = new Int8Array(rows * cols);
  for (let k = 0; k < rows; k++) {
    for (let n = 0; n < cols; n++) {
      const value = Math.round(weights[k * cols + n]! / scales[n]!);
      q[k * cols + n] = Math.max(-127, Math.min(127, value));
    }
  }
  return { q, scales };
}

/** [rows, cols] -> [cols, rows], for Gemm weights stored transposed (transB = 1). */
function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

const bytes = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
const attribute = (node: NodeProto, name: string) => node.attribute?.find((candidate) => candidate.name === name);

/** What a MatMul/Gemm needs to become the integer chain, or undefined when it must stay fp32. */
interface Candidate {
  input: string;
  weight: Float32Array;
  rows: number;
  cols: number;
  bias?: string;
}

function candidateOf(node: NodeProto, initializers: Map<string, TensorProto>): Candidate | undefined {
  const [input, weightName, bias] = node.input ?? [];
  const tensor = weightName === undefined ? undefined : initializers.get(weightName);
  if (!input || !tensor || tensor.dataType !== DataType.FLOAT || tensor.dims?.length !== 2) return undefined;
  let rows = Number(tensor.dims[0]);
  let cols = Number(tensor.dims[1]);
  let weight = floatValues(tensor);
  if (node.opType === 'MatMul') return { input, weight, rows, cols };
  // Gemm: only the plain y = x W (+ b) form, with W possibly stored transposed.
  const scaled = ['alpha', 'beta'].some((name) => (attribute(node, name)?.f ?? 1) !== 1);
  if (scaled || Number(attribute(node, 'transA')?.i ?? 0) !== 0) return undefined;
  if (Number(attribute(node, 'transB')?.i ?? 0) === 1) {
    weight = transpose(weight, rows, cols);
    [rows, cols] = [cols, rows];
  }
  return { input, weight, rows, cols, bias };
}

/** Quantizes `model` in place; returns what it did. */
export function quantizeModel(model: ModelProto): QuantizeSummary {
  const graph = model.graph;
  if (!graph) throw new Error('the model has no graph');
  const initializers = new Map((graph.initializer ?? []).map((tensor) => [tensor.name ?? '', tensor]));
  const bytesBefore = onnx.ModelProto.encode(model).finish().byteLength;
  const replaced = new Set<string>();
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  /** One DynamicQuantizeLinear per activation, shared by the q/k/v projections that read it. */
  const quantizedInputs = new Map<string, [string, string, string]>();
  let quantized = 0;
  let skipped = 0;

  for (const node of graph.node ?? []) {
    const candidate = node.opType === 'MatMul' || node.opType === 'Gemm' ? candidateOf(node, initializers) : undefined;
    if (!candidate) {
      if (node.opType === 'MatMul' || node.opType === 'Gemm') skipped += 1;
      nodes.push(node);
      continue;
    }
    const name = node.name || `${node.output?.[0]}_node`;
    const weightName = node.input![1]!;
    const { q, scales } = quantizeColumns(candidate.weight, candidate.rows, candidate.cols);
    added.push(
      { name: `${weightName}_quantized`, dims: [candidate.rows, candidate.cols], dataType: DataType.INT8, rawData: bytes(q) },
      { name: `${weightName}_zero_point`, dims: [candidate.cols], dataType: DataType.INT8, rawData: new Uint8Array(candidate.cols) },
      { name: `${weightName}_scale`, dims: [candidate.cols], dataType: DataType.FLOAT, rawData: bytes(scales) },
    );
    replaced.add(weightName);

    let activation = quantizedInputs.get(candidate.input);
    if (!activation) {
      activation = [`${candidate.input}_quantized`, `${candidate.input}_scale`, `${candidate.input}_zero_point`];
      nodes.push({ name: `${candidate.input}_QuantizeLinear`, opType: 'DynamicQuantizeLinear', input: [candidate.input], output: activation });
      quantizedInputs.set(candidate.input, activation);
    }
    const [xq, xScale, xZero] = activation;
    const output = node.output![0]!;
    const product = candidate.bias ? `${name}_MatMul_output` : output;
    nodes.push(
      { name: `${name}_MatMulInteger`, opType: 'MatMulInteger', input: [xq, `${weightName}_quantized`, xZero, `${weightName}_zero_point`], output: [`${name}_int32`] },
      { name: `${name}_Cast`, opType: 'Cast', input: [`${name}_int32`], output: [`${name}_float`], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] },
      { name: `${name}_ScaleProduct`, opType: 'Mul', input: [xScale, `${weightName}_scale`], output: [`${name}_scale`] },
      { name: `${name}_Rescale`, opType: 'Mul', input: [`${name}_float`, `${name}_scale`], output: [product] },
    );
    if (candidate.bias) nodes.push({ name: `${name}_Bias`, opType: 'Add', input: [product, candidate.bias], output: [output] });
    quantized += 1;
  }

  // A weight still read by a node left in fp32 keeps its float copy.
  const stillRead = new Set(nodes.flatMap((node) => node.input ?? []));
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !replaced.has(t.name ?? '') || stillRead.has(t.name ?? '')), ...added];
  graph.node = nodes;
  return { quantized, skipped, bytesBefore, bytesAfter: onnx.ModelProto.encode(model).finish().byteLength };
}

export function decodeModel(buffer: Uint8Array): ModelProto {
  return onnx.ModelProto.decode(buffer);
}

export function encodeModel(model: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
