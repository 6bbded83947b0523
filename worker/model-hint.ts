/** The one sentence every "no usable model" message ends with, shared by the worker and `npm start`. */
export const MODEL_FIX_HINT =
  'Fix: run `npm run model:fetch` to download cross-encoder/ms-marco-TinyBERT-L-2-v2, ' +
  'or `npm run demo` to try the service with a generated random-weight model (its scores are meaningless).';
