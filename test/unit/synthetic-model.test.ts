import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { ARCHS, GENERATOR_VERSION, SYNTHETIC_NOTE, writeSyntheticModel } from '../../scripts/synthetic-model/index.ts';
import { generateVocab } from '../../scripts/synthetic-model/vocab.ts';
import { BERT_VOCAB_SHA256, bertVocabPath } from '../../scripts/lib/bert-vocab.ts';
import { ensureTestModel, REAL_VOCAB_PATH } from '../support/models.ts';

const EXPECTED_FILES = [
  'README.md',
  'config.json',
  'onnx/model.onnx',
  'special_tokens_map.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'vocab.txt',
];

/** sha256 of every file under `dir`, keyed by its path relative to `dir`. */
async function fileHashes(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const hashes: Record<string, string> = {};
  for (const entry of entries.filter((e) => e.isFile())) {
    const full = path.join(entry.parentPath, entry.name);
    hashes[path.relative(dir, full).split(path.sep).join('/')] = createHash('sha256')
      .update(await readFile(full))
      .digest('hex');
  }
  return hashes;
}

const readJson = async (file: string): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;

const idsOf = async (tokenizer: Tokenizer, text: string): Promise<number[]> =>
  (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds();

describe('writeSyntheticModel output', () => {
  let scratch: string;
  before(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'synthetic-model-'));
  });
  after(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('is byte-identical for the same options and differs in the weights for another seed', async () => {
    const write = (name: string, seed: number) =>
      writeSyntheticModel({ arch: 'tiny', outDir: path.join(scratch, name), seed });
    const [first, again, other] = await Promise.all([write('a', 42), write('b', 42), write('c', 7)]);
    const hashes = await fileHashes(first.dir);
    assert.deepEqual(Object.keys(hashes).sort(), EXPECTED_FILES);
    assert.deepEqual(await fileHashes(again.dir), hashes);
    const otherHashes = await fileHashes(other.dir);
    assert.notEqual(otherHashes['onnx/model.onnx'], hashes['onnx/model.onnx']);
    assert.notEqual(otherHashes['config.json'], hashes['config.json']); // its name carries the seed
    assert.equal(otherHashes['tokenizer.json'], hashes['tokenizer.json']);
  });

  it('reports the files it wrote with their sizes', async () => {
    const summary = await writeSyntheticModel({ arch: 'tiny', outDir: path.join(scratch, 'summary') });
    assert.deepEqual(summary.files.map((f) => f.path).sort(), EXPECTED_FILES);
    for (const file of summary.files) {
      assert.equal(file.bytes, (await stat(path.join(summary.dir, file.path))).size, file.path);
    }
    assert.equal(summary.vocabSource, 'generated');
    assert.equal(summary.seed, 42);
  });

  it('rejects seeds that are not unsigned 32-bit integers', async () => {
    for (const seed of [-1, 1.5, 2 ** 32]) {
      await assert.rejects(writeSyntheticModel({ arch: 'tiny', outDir: path.join(scratch, 'bad'), seed }), RangeError);
    }
  });
});

describe('tinybert with the real vocabulary', () => {
  let dir: string;
  let tokenizer: Tokenizer;
  before(async () => {
    dir = await ensureTestModel('tinybert', { realVocab: true });
    tokenizer = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  });

  it('has the HF config of cross-encoder/ms-marco-TinyBERT-L-2-v2 plus the synthetic marker', async () => {
    const config = await readJson(path.join(dir, 'config.json'));
    assert.deepEqual(config.architectures, ['BertForSequenceClassification']);
    const expected = {
      model_type: 'bert',
      vocab_size: 30522,
      hidden_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      intermediate_size: 512,
      hidden_act: 'gelu',
      max_position_embeddings: 512,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
      num_labels: 1,
      _name_or_path: 'synthetic/tinybert-random-seed42',
    };
    for (const [key, value] of Object.entries(expected)) assert.equal(config[key], value, key);
    assert.deepEqual(config.id2label, { '0': 'LABEL_0' });
    assert.deepEqual(config.rerank_queue, {
      synthetic: true,
      note: SYNTHETIC_NOTE,
      arch: 'tinybert',
      seed: 42,
      generator_version: GENERATOR_VERSION,
    });
  });

  it('writes the tokenizer side files and a README that warns', async () => {
    const tokenizerConfig = await readJson(path.join(dir, 'tokenizer_config.json'));
    assert.equal(tokenizerConfig.model_max_length, 512);
    assert.equal(tokenizerConfig.do_lower_case, true);
    assert.equal(tokenizerConfig.tokenizer_class, 'BertTokenizer');
    const specials = await readJson(path.join(dir, 'special_tokens_map.json'));
    assert.equal(specials.cls_token, '[CLS]');
    assert.equal(specials.sep_token, '[SEP]');
    assert.match(await readFile(path.join(dir, 'README.md'), 'utf8'), /random weights: scores are meaningless/);
  });

  it('copies the vocabulary byte for byte', async () => {
    assert.deepEqual(await readFile(path.join(dir, 'vocab.txt')), await readFile(REAL_VOCAB_PATH));
  });

  it('is the bundled bert-base-uncased vocabulary, whose checksum is checked where it is read', async () => {
    const digest = createHash('sha256').update(await readFile(REAL_VOCAB_PATH)).digest('hex');
    assert.equal(digest, BERT_VOCAB_SHA256);
    assert.equal(bertVocabPath(), REAL_VOCAB_PATH);
    assert.equal((await readFile(REAL_VOCAB_PATH, 'utf8')).split('\n').filter(Boolean).length, 30_522);
  });

  it('tokenizes known words to their bert-base-uncased ids', async () => {
    assert.deepEqual(await idsOf(tokenizer, 'the'), [1996]);
    assert.deepEqual(await idsOf(tokenizer, 'Hello'), [7592]);
    assert.deepEqual(await idsOf(tokenizer, '[CLS]'), [101]);
    assert.deepEqual(await idsOf(tokenizer, 'Ramírez'), await idsOf(tokenizer, 'ramirez')); // accents stripped
  });

  it('lays out pairs as [CLS] A [SEP] B [SEP] with type ids 0 then 1', async () => {
    const encoding = await tokenizer.encode('Who founded FastAPI?', 'FastAPI was created by Sebastián Ramírez.');
    const ids = encoding.getIds();
    const firstSep = ids.indexOf(102);
    assert.equal(ids[0], 101);
    assert.equal(ids.at(-1), 102);
    assert.ok(firstSep > 1 && firstSep < ids.length - 2, `[SEP] at ${firstSep} in ${ids}`);
    const expectedTypes = ids.map((_, i) => (i <= firstSep ? 0 : 1));
    assert.deepEqual(encoding.getTypeIds(), expectedTypes);
    const known = await tokenizer.encode('hello world', 'a quick brown fox');
    assert.deepEqual(known.getIds(), [101, 7592, 2088, 102, 1037, 4248, 2829, 4419, 102]);
  });
});

describe('generated vocabularies', () => {
  it('keep BERT special-token ids and have exactly the requested size', () => {
    const vocab = generateVocab(ARCHS.tinybert.generatedVocabSize);
    assert.equal(vocab.length, 30522);
    assert.equal(new Set(vocab).size, vocab.length);
    const specials = [0, 100, 101, 102, 103].map((id) => vocab[id]);
    assert.deepEqual(specials, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    for (const token of ['a', 'z', '0', '?', '##a', '##9', 'the', '##ing']) assert.ok(vocab.includes(token), token);
  });

  it('back a tokenizer that loads and encodes pairs (tiny model)', async () => {
    const dir = await ensureTestModel('tiny');
    const config = await readJson(path.join(dir, 'config.json'));
    const vocabLines = (await readFile(path.join(dir, 'vocab.txt'), 'utf8')).split('\n').filter(Boolean);
    assert.equal(config.vocab_size, vocabLines.length);
    assert.equal(config.max_position_embeddings, 128);
    assert.equal((await readJson(path.join(dir, 'tokenizer_config.json'))).model_max_length, 128);
    const tokenizer = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
    const encoding = await tokenizer.encode('The query', 'A document, with words!');
    const ids = encoding.getIds();
    assert.equal(ids[0], 101);
    assert.equal(ids.filter((id) => id === 102).length, 2);
    assert.deepEqual(await idsOf(tokenizer, 'the'), [vocabLines.indexOf('the')]);
    assert.deepEqual(await idsOf(tokenizer, '€'), [100]);
  });
});
