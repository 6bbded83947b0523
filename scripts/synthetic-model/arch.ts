/**
 * The architectures the generator can build, and the HuggingFace config.json that describes them.
 * `tinybert` is cross-encoder/ms-marco-TinyBERT-L-2-v2's architecture exactly; `tiny` is the same graph with small
 * sizes so tests run fast, and a short position table so tests can check that max_length is capped by the model.
 */

export type ArchName = 'tiny' | 'tinybert';
export const ARCH_NAMES: readonly ArchName[] = ['tiny', 'tinybert'];

export interface BertDims {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  /** Vocabulary size when no vocab file is given (bert-base-uncased has 30,522 tokens). */
  generatedVocabSize: number;
}

export const ARCHS: Readonly<Record<ArchName, Readonly<BertDims>>> = {
  tinybert: {
    hiddenSize: 128,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 512,
    maxPositions: 512,
    typeVocabSize: 2,
    generatedVocabSize: 30522,
  },
  tiny: {
    hiddenSize: 32,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 64,
    maxPositions: 128,
    typeVocabSize: 2,
    generatedVocabSize: 4096,
  },
};

export const LAYER_NORM_EPS = 1e-12;
export const SYNTHETIC_NOTE = 'random weights: scores are meaningless';

export interface ConfigFacts {
  arch: ArchName;
  seed: number;
  vocabSize: number;
  /** Changes whenever the generator's output for the same arguments changes; caches compare it. */
  generatorVersion: number;
}

/** config.json with the fields transformers' BertConfig reads, plus the marker the engine warns about. */
export function buildBertConfig({ arch, seed, vocabSize, generatorVersion }: ConfigFacts): object {
  const dims = ARCHS[arch];
  return {
    _name_or_path: `synthetic/${arch}-random-seed${seed}`,
    architectures: ['BertForSequenceClassification'],
    attention_probs_dropout_prob: 0.1,
    classifier_dropout: null,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    hidden_size: dims.hiddenSize,
    id2label: { '0': 'LABEL_0' },
    initializer_range: 0.02,
    intermediate_size: dims.intermediateSize,
    label2id: { LABEL_0: 0 },
    layer_norm_eps: LAYER_NORM_EPS,
    max_position_embeddings: dims.maxPositions,
    model_type: 'bert',
    num_attention_heads: dims.numHeads,
    num_hidden_layers: dims.numLayers,
    num_labels: 1,
    pad_token_id: 0,
    position_embedding_type: 'absolute',
    type_vocab_size: dims.typeVocabSize,
    use_cache: true,
    vocab_size: vocabSize,
    rerank_queue: { synthetic: true, note: SYNTHETIC_NOTE, arch, seed, generator_version: generatorVersion },
  };
}
