/**
 * Offline scoring: JSONL {"query": "...", "documents": ["...", ...]} on stdin -> {"scores": [...]} per line on
 * stdout, in order. A bad line yields {"error": {"line", "code", "message"}} and processing continues.
 * stdout carries nothing but JSONL; diagnostics go to stderr.
 *
 * Exit codes: 0 done (even with bad lines), 1 the model failed to load, 2 bad flags.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { EngineError, loadEngine, type EngineOptions, type RerankEngine } from '../worker/engine/index.ts';

const USAGE = `Usage: npm run -s score -- --model-dir DIR [--max-length N] [--raw] < input.jsonl
  --model-dir DIR   model in HuggingFace layout (config.json, tokenizer.json, onnx/model.onnx)
  --max-length N    max tokens per (query, document) pair incl. special tokens (default 64, capped by the model)
  --raw             print raw logits instead of sigmoid scores
Input: one {"query": string, "documents": string[]} per line; blank lines are skipped.`;

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
  const modelDir = values['model-dir'];
  if (!modelDir) return '--model-dir is required';
  const maxLengthText = values['max-length'];
  const maxLength = maxLengthText === undefined ? undefined : Number(maxLengthText);
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 4)) {
    return `--max-length must be an integer >= 4, got "${maxLengthText}"`;
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
  const obj = value as { query?: unknown; documents?: unknown } | null;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new BadLine('VALIDATION_FAILED', 'expected a JSON object {"query": string, "documents": string[]}');
  }
  if (typeof obj.query !== 'string') throw new BadLine('VALIDATION_FAILED', '"query" must be a string');
  const docs = obj.documents;
  if (!Array.isArray(docs) || !docs.every((d): d is string => typeof d === 'string')) {
    throw new BadLine('VALIDATION_FAILED', '"documents" must be an array of strings');
  }
  return { query: obj.query, documents: docs };
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
    return 1;
  }
  if (engine.info.synthetic) {
    process.stderr.write(
      `score: WARNING: ${engine.info.modelDir} is a generated model with random weights; its scores are meaningless.\n`,
    );
  }
  let line = 0;
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    line += 1;
    if (text.trim() === '') continue;
    await writeLine(await scoreLine(engine, text, line, args.raw));
  }
  await engine.close();
  return 0;
}

process.exitCode = await main();
