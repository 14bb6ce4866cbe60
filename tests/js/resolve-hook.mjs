// ESM resolve hook for plain Node: the published @sqlrooms packages are built for
// bundlers and use extensionless relative imports ("./load/load"), directory
// imports ("./schema-tree") and extensionless deep imports into CommonJS packages
// ("dayjs/plugin/relativeTime"). When Node fails to resolve such a specifier,
// retry it with ".js" and then "/index.js".
const RETRYABLE = new Set(['ERR_MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT']);

// "./x", "../x", or a bare "pkg/sub/path" / "@scope/pkg/sub/path" deep import.
function isRetryable(specifier) {
  if (specifier.startsWith('./') || specifier.startsWith('../')) return true;
  if (/^[a-z]+:/i.test(specifier) || specifier.startsWith('/')) return false;
  const parts = specifier.split('/');
  return parts.length > (specifier.startsWith('@') ? 2 : 1);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!RETRYABLE.has(error?.code) || !isRetryable(specifier)) throw error;
    const base = specifier.replace(/\/+$/, '');
    for (const candidate of [`${base}.js`, `${base}/index.js`]) {
      try {
        return await nextResolve(candidate, context);
      } catch (retryError) {
        if (!RETRYABLE.has(retryError?.code)) throw retryError;
      }
    }
    throw error;
  }
}
