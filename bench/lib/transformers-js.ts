/**
 * transformers.js (`@huggingface/transformers`), what a Node user would pick instead of this engine, run the way
 * its docs show: AutoTokenizer + AutoModelForSequenceClassification from a local model directory (no hub), pairs
 * tokenized with `text_pair`, padded per batch and truncated to the same max length.
 */
import { basename, dirname } from 'node:path';
import { AutoModelForSequenceClassification, AutoTokenizer, env } from '@huggingface/transformers';

export interface TransformersJsScorer {
  /** One logit per document, in order; batches of `batchSize` pairs. */
  score(query: string, documents: readonly string[]): Promise<number[]>;
}

/** `onnxFile` is the graph inside `modelDir/onnx/` without `.onnx` (model, model_int8, ...). */
export async function loadTransformersJs(
  modelDir: string,
  options: { onnxFile: string; maxLength: number; batchSize: number },
): Promise<TransformersJsScorer> {
  env.allowRemoteModels = false;
  env.localModelPath = `${dirname(modelDir)}/`;
  const name = basename(modelDir);
  const tokenizer = await AutoTokenizer.from_pretrained(name, { local_files_only: true });
  const model = await AutoModelForSequenceClassification.from_pretrained(name, {
    local_files_only: true,
    dtype: 'fp32',
    model_file_name: options.onnxFile,
  });
  return {
    async score(query, documents) {
      const logits: number[] = [];
      for (let start = 0; start < documents.length; start += options.batchSize) {
        const batch = documents.slice(start, start + options.batchSize);
        const inputs = tokenizer(Array(batch.length).fill(query), {
          text_pair: batch,
          padding: true,
          truncation: true,
          max_length: options.maxLength,
        });
        const output = (await model(inputs)) as { logits: { data: Float32Array } };
        logits.push(...output.logits.data);
      }
      return logits;
    },
  };
}
