// Package connectors is where bytes go and come from: object storage opened
// from a URL through gocloud.dev/blob, Parquet files written and read as
// Apache Arrow tables, and DuckDB SQL over Parquet. It knows nothing of the
// scheduler; compute functions and weir's runtime both use it.
package connectors
