/**
 * Short labels for DuckDB types where a badge has little room (the schema tree): DuckDB's own
 * short names (`timestamptz`), parameters of nested types left out. The full type goes in the
 * tooltip.
 */
const SHORT: [RegExp, string][] = [
  [/^TIMESTAMP WITH TIME ZONE/i, 'timestamptz'],
  [/^TIME WITH TIME ZONE/i, 'timetz'],
];

export function shortTypeLabel(type: string): string {
  const full = type.trim();
  for (const [pattern, short] of SHORT) {
    if (pattern.test(full)) return short + full.replace(pattern, '').toLowerCase();
  }
  // STRUCT(a INTEGER, …)[] → struct[]; DECIMAL(12,2) keeps its precision (it is short).
  const nested = /^(STRUCT|MAP|UNION|ENUM)\s*\(.*\)(\[\d*\])*$/is.exec(full);
  if (nested) return `${nested[1]}${full.match(/(\[\d*\])*$/)?.[0] ?? ''}`.toLowerCase();
  return full.toLowerCase();
}

/** `3M`, `12.5K`: a row count that fits beside a long name (the exact one is in the tooltip). */
export function compactCount(n: number): string {
  return new Intl.NumberFormat('en-US', {notation: 'compact', maximumFractionDigits: 1}).format(n);
}
