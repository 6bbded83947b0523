/**
 * Readable job names for the dashboard: the first words of the query and the document count, e.g.
 * `"neural passage retrieval…" × 20,000`. Job ids stay opaque; names are only for people.
 */
const MAX_QUERY_CHARS = 40;

export function jobDisplayName(query: string, documentCount: number): string {
  const words = query.trim().replace(/\s+/g, ' ');
  const cut = words.length > MAX_QUERY_CHARS ? `${words.slice(0, MAX_QUERY_CHARS).replace(/\s+\S*$/, '')}…` : words;
  return `"${cut}" × ${documentCount.toLocaleString('en-US')}`;
}
