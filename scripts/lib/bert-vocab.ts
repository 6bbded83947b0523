/**
 * The bert-base-uncased vocabulary shipped in data/ (see data/README.md): the real model's tokenizer for generated
 * models, the demo, the benchmarks and the tests. Its sha256 is checked before it is used, so a damaged or
 * replaced copy fails loudly instead of changing every token id silently.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const BERT_VOCAB_PATH = resolve(import.meta.dirname, '../../data/bert-base-uncased-vocab.txt');
export const BERT_VOCAB_SHA256 = '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3';

let verified = false;

/** The bundled vocabulary's path, after checking its checksum (once per process). */
export function bertVocabPath(): string {
  if (verified) return BERT_VOCAB_PATH;
  const digest = createHash('sha256').update(readFileSync(BERT_VOCAB_PATH)).digest('hex');
  if (digest !== BERT_VOCAB_SHA256) {
    throw new Error(`${BERT_VOCAB_PATH}: sha256 ${digest}, expected ${BERT_VOCAB_SHA256} (restore it from git)`);
  }
  verified = true;
  return BERT_VOCAB_PATH;
}
