/**
 * A small builder over onnx-proto's message types: collects nodes and initializers in insertion order and encodes
 * the ModelProto. Insertion order is kept so the same calls always produce the same bytes.
 */
import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type Attribute = onnxProto.onnx.IAttributeProto;
type DataType = onnxProto.onnx.TensorProto.DataType;

const { AttributeType } = onnx.AttributeProto;
export const int = (i: number): Attribute => ({ type: AttributeType.INT, i });
export const ints = (...values: number[]): Attribute => ({ type: AttributeType.INTS, ints: values });
export const float = (f: number): Attribute => ({ type: AttributeType.FLOAT, f });

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;

/** A graph input or output: its element type and dims, where a string is a symbolic dim. */
export interface TensorSignature {
  name: string;
  elemType: DataType;
  dims: (number | string)[];
}

export interface ModelMetadata {
  opsetVersion: number;
  producerName: string;
  producerVersion: string;
  docString: string;
}

function rawBytes(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

function valueInfo(signature: TensorSignature): onnxProto.onnx.IValueInfoProto {
  const dim = signature.dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
  return { name: signature.name, type: { tensorType: { elemType: signature.elemType, shape: { dim } } } };
}

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];

  constructor() {
    // ONNX raw_data is little-endian; typed arrays use the host's byte order.
    if (endianness() !== 'LE') throw new Error('generating ONNX models needs a little-endian host');
  }

  /** Adds a float32 initializer and returns its name. */
  floatTensor(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: rawBytes(data) });
    return name;
  }

  floatScalar(name: string, value: number): string {
    return this.floatTensor(name, [], Float32Array.of(value));
  }

  /** Adds an int64 initializer (shapes, axes, indices) and returns its name. */
  int64Tensor(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push({ name, dims, dataType: INT64, rawData: rawBytes(data) });
    return name;
  }

  /**
   * Adds a node named `name` (a torch-export-like path such as `/bert/encoder/layer.0/attention/self/query/MatMul`)
   * and returns the name of its single output, `<name>_output_0` unless `output` is given.
   */
  node(
    name: string,
    opType: string,
    inputs: string[],
    attributes: Record<string, Attribute> = {},
    output?: string,
  ): string {
    const outputName = output ?? `${name}_output_0`;
    const attribute = Object.entries(attributes).map(([attrName, value]) => ({ ...value, name: attrName }));
    this.nodes.push({ name, opType, input: inputs, output: [outputName], attribute });
    return outputName;
  }

  /** Encodes the model. IR version 8 is the newest onnx-proto knows and the one ONNX pairs with opset 17. */
  encode(graphName: string, inputs: TensorSignature[], outputs: TensorSignature[], meta: ModelMetadata): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: meta.opsetVersion }],
      producerName: meta.producerName,
      producerVersion: meta.producerVersion,
      docString: meta.docString,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: inputs.map(valueInfo),
        output: outputs.map(valueInfo),
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
