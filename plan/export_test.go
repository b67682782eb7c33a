package plan

// SetSummaryRewriteRows sets how many changes make a status read keep a new
// summary, until the test ends.
func SetSummaryRewriteRows(t interface{ Cleanup(func()) }, n int) {
	old := summaryRewriteRows
	summaryRewriteRows = n
	t.Cleanup(func() { summaryRewriteRows = old })
}

var (
	EncodeStatus = encodeStatus
	DecodeStatus = decodeStatus
)
