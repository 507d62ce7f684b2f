// An independent Parquet reader (hyparquet, pure JavaScript, not DuckDB): reads every Parquet file
// of the tables given as folders, and prints one JSON line per file with its column names, row
// count and the rows it decoded (all of them: the read must succeed to the last value).
// Usage: node read_parquet.mjs NODE_MODULES FILE...
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
const require = createRequire(resolve(process.argv[2], '..') + '/')
const { parquetMetadata, parquetSchema, parquetReadObjects } = await import(require.resolve('hyparquet'))
const { compressors } = await import(require.resolve('hyparquet-compressors'))
for (const path of process.argv.slice(3)) {
  const buf = readFileSync(path)
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
  const metadata = parquetMetadata(file)
  const columns = parquetSchema(metadata).children.map(c => c.element.name)
  const rows = await parquetReadObjects({ file, compressors })
  const codecs = [...new Set(metadata.row_groups.flatMap(g => g.columns.map(c => c.meta_data.codec)))]
  console.log(JSON.stringify({ path, columns, rows: Number(metadata.num_rows), decoded: rows.length, codecs }))
}
