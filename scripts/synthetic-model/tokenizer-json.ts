/**
 * The HuggingFace tokenizer files of an uncased BERT: tokenizer.json (read by the `tokenizers` library),
 * tokenizer_config.json and special_tokens_map.json (read by `transformers`). With bert-base-uncased's vocab.txt
 * they describe exactly the tokenizer of cross-encoder/ms-marco-TinyBERT-L-2-v2.
 */
import { SPECIAL_TOKENS, type SpecialToken } from './vocab.ts';

const VOCAB_SLOT = '@@vocab@@';

function idOf(vocab: readonly string[], token: SpecialToken): number {
  const id = vocab.indexOf(token);
  if (id < 0) throw new Error(`vocabulary has no ${token}`);
  return id;
}

function templateProcessing(vocab: readonly string[]): object {
  const special = (id: SpecialToken, typeId: number) => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const entry = (token: SpecialToken) => ({ id: token, ids: [idOf(vocab, token)], tokens: [token] });
  return {
    type: 'TemplateProcessing',
    single: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0)],
    pair: [special('[CLS]', 0), sequence('A', 0), special('[SEP]', 0), sequence('B', 1), special('[SEP]', 1)],
    special_tokens: { '[CLS]': entry('[CLS]'), '[SEP]': entry('[SEP]') },
  };
}

/**
 * The vocab object written in id order, as `tokenizers` saves it. JSON.stringify cannot: a JS object lists
 * integer-like keys such as "1996" first.
 */
function vocabJson(vocab: readonly string[], indent: string): string {
  const entries = vocab.map((token, id) => `${indent}  ${JSON.stringify(token)}: ${id}`);
  return `{\n${entries.join(',\n')}\n${indent}}`;
}

/** tokenizer.json text for a WordPiece BERT tokenizer over `vocab` (id = index). */
export function buildTokenizerJson(vocab: readonly string[]): string {
  const addedTokens = SPECIAL_TOKENS.map((token) => ({
    id: idOf(vocab, token),
    content: token,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  })).sort((a, b) => a.id - b.id);
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: templateProcessing(vocab),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: VOCAB_SLOT,
    },
  };
  const text = JSON.stringify(tokenizer, null, 2);
  // A replacer function, because tokens such as "$&" would be read as patterns in a replacement string.
  return text.replace(JSON.stringify(VOCAB_SLOT), () => vocabJson(vocab, '    ')) + '\n';
}

/** tokenizer_config.json as transformers writes it for an uncased BertTokenizer. */
export function buildTokenizerConfig(modelMaxLength: number): object {
  return {
    clean_up_tokenization_spaces: true,
    cls_token: '[CLS]',
    do_basic_tokenize: true,
    do_lower_case: true,
    mask_token: '[MASK]',
    model_max_length: modelMaxLength,
    never_split: null,
    pad_token: '[PAD]',
    sep_token: '[SEP]',
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: 'BertTokenizer',
    unk_token: '[UNK]',
  };
}

export const SPECIAL_TOKENS_MAP = {
  cls_token: '[CLS]',
  mask_token: '[MASK]',
  pad_token: '[PAD]',
  sep_token: '[SEP]',
  unk_token: '[UNK]',
} as const;
