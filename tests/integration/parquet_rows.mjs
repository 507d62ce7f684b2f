// An independent Parquet reader for the DSAR tests (hyparquet, pure JavaScript, not DuckDB):
// prints one JSON line per row of every file given, {"path": ..., "row": {...}}, with 64-bit
// integers as decimal strings. Usage: node parquet_rows.mjs NODE_MODULES FILE...
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
const require = createRequire(resolve(process.argv[2], '..') + '/')
const { parquetReadObjects } = await import(require.resolve('hyparquet'))
const { compressors } = await import(require.resolve('hyparquet-compressors'))
const big = (k, v) => (typeof v === 'bigint' ? v.toString() : v)
for (const path of process.argv.slice(3)) {
  const buf = readFileSync(path)
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const rows = await parquetReadObjects({ file, compressors, utf8: true })
  for (const row of rows) console.log(JSON.stringify({ path, row }, big))
}
