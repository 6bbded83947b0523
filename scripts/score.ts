/**
 * Offline scoring: JSONL {"query": "...", "documents": [...]} on stdin -> {"scores": [...]} per line on stdout, in
 * order. Documents take the API's two forms (strings or {"text": ...}). A bad line yields
 * {"error": {"line", "code", "message"}} and processing continues. stdout carries nothing but JSONL; diagnostics
 * go to stderr. Without --model-dir / --max-length the service's settings apply (MODEL_DIR, MAX_SEQ_LENGTH from
 * the environment and `.env`).
 *
 * Exit codes: 0 every line scored, 1 the model failed to load, 2 bad flags or settings, 3 some lines failed
 * (after every line was written).
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ConfigError, loadConfig, readEnv } from '../shared/config.ts';
import { DocumentSchema, documentText } from '../shared/schemas/rerank.ts';
import { EngineError, loadEngine, type EngineOptions, type RerankEngine } from '../worker/engine/index.ts';
import { DEMO_MODEL_DIR } from './lib/model-check.ts';

const USAGE = `Usage: npm run -s score -- [--model-dir DIR] [--max-length N] [--raw] < input.jsonl
  --model-dir DIR   model in HuggingFace layout (config.json, tokenizer.json, onnx/model.onnx); default MODEL_DIR
  --max-length N    max tokens per (query, document) pair incl. special tokens (default MAX_SEQ_LENGTH, capped by the model)
  --raw             print raw logits instead of sigmoid scores
Input: one {"query": string, "documents": (string | {"text": string})[]} per line; blank lines are skipped.
Exit codes: 0 all lines scored, 1 the model did not load, 2 bad flags or settings, 3 some lines failed.`;

/** One input line: the API's document forms; an empty query or list is scored (as nothing) rather than refused. */
const LineSchema = Type.Object({ query: Type.String(), documents: Type.Array(DocumentSchema) });

const EXIT_LINES_FAILED = 3;

interface CliArgs {
  engine: EngineOptions;
  raw: boolean;
}

/** Returns the parsed flags, or an error message for a usage error. */
function parseCliArgs(argv: string[]): CliArgs | string {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'model-dir': { type: 'string' },
        'max-length': { type: 'string' },
        raw: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  const maxLengthText = values['max-length'];
  const maxLength = maxLengthText === undefined ? undefined : Number(maxLengthText);
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 4)) {
    return `--max-length must be an integer >= 4, got "${maxLengthText}"`;
  }
  let modelDir = values['model-dir'];
  if (modelDir === undefined || maxLength === undefined) {
    // The service's own settings, so that `npm run -s score` scores with the model `npm start` serves. Only these
    // two: a setting of the API or the queue (a port, the dashboard) is no reason to refuse to score offline.
    try {
      const { MODEL_DIR, MAX_SEQ_LENGTH } = readEnv();
      const config = loadConfig({ MODEL_DIR, MAX_SEQ_LENGTH });
      modelDir ??= config.MODEL_DIR;
      return { engine: { modelDir, maxLength: maxLength ?? config.MAX_SEQ_LENGTH }, raw: values.raw ?? false };
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
  }
  return { engine: { modelDir, maxLength }, raw: values.raw ?? false };
}

type LineResult = { scores: number[] } | { error: { line: number; code: string; message: string } };

class BadLine extends Error {
  constructor(
    readonly code: 'INVALID_JSON' | 'VALIDATION_FAILED',
    message: string,
  ) {
    super(message);
  }
}

function parseRequest(text: string): { query: string; documents: string[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BadLine('INVALID_JSON', err instanceof Error ? err.message : String(err));
  }
  if (!Value.Check(LineSchema, value)) {
    const first = Value.Errors(LineSchema, value).First();
    const where = first?.path ? `${first.path}: ` : '';
    const detail = first?.path.startsWith('/documents/') ? 'each document must be a string or an object {"text": string}' : first?.message;
    throw new BadLine('VALIDATION_FAILED', `${where}${detail ?? 'invalid'}; expected {"query": string, "documents": [...]}`);
  }
  return { query: value.query, documents: value.documents.map(documentText) };
}

async function scoreLine(engine: RerankEngine, text: string, line: number, raw: boolean): Promise<LineResult> {
  try {
    const { query, documents } = parseRequest(text);
    const { scores } = await engine.score(query, documents, { raw });
    return { scores };
  } catch (err) {
    const code = err instanceof BadLine || err instanceof EngineError ? err.code : 'INTERNAL';
    return { error: { line, code, message: err instanceof Error ? err.message : String(err) } };
  }
}

async function writeLine(result: LineResult): Promise<void> {
  if (!process.stdout.write(`${JSON.stringify(result)}\n`)) {
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}

async function main(): Promise<number> {
  const args = parseCliArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`score: ${args}\n${USAGE}\n`);
    return 2;
  }
  let engine: RerankEngine;
  try {
    engine = await loadEngine(args.engine);
  } catch (err) {
    const code = err instanceof EngineError ? `${err.code}: ` : '';
    process.stderr.write(`score: cannot load model: ${code}${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof EngineError && err.code === 'MODEL_NOT_FOUND') {
      process.stderr.write(`score: \`npm run demo\` generates its model in ${DEMO_MODEL_DIR}: --model-dir ${DEMO_MODEL_DIR}\n`);
    }
    return 1;
  }
  if (engine.info.synthetic) {
    process.stderr.write(
      `score: WARNING: ${engine.info.modelDir} is a generated model with random weights; its scores are meaningless.\n`,
    );
  }
  let line = 0;
  let failed = 0;
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    line += 1;
    if (text.trim() === '') continue;
    const result = await scoreLine(engine, text, line, args.raw);
    if ('error' in result) failed += 1;
    await writeLine(result);
  }
  await engine.close();
  if (failed === 0) return 0;
  process.stderr.write(`score: ${failed} of the input lines failed (see their "error" lines)\n`);
  return EXIT_LINES_FAILED;
}

process.exitCode = await main();
