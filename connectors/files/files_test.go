package files_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"gocloud.dev/blob/memblob"

	"github.com/weir-dev/weir/connectors/files"
	"github.com/weir-dev/weir/connectors/parquet"
	"github.com/weir-dev/weir/partitions"
	"github.com/weir-dev/weir/pipelines"
	"github.com/weir-dev/weir/verify"
)

// dump reads every batch of rr as "schema; rows" with values' ValueStr.
func dump(t *testing.T, rr array.RecordReader) string {
	t.Helper()
	defer rr.Release()
	var fields, rows []string
	for _, f := range rr.Schema().Fields() {
		fields = append(fields, f.Name+":"+f.Type.String())
	}
	for rr.Next() {
		rec := rr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var vals []string
			for _, c := range rec.Columns() {
				if c.IsNull(i) {
					vals = append(vals, "NULL")
				} else {
					vals = append(vals, c.ValueStr(i))
				}
			}
			rows = append(rows, strings.Join(vals, "|"))
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return "error: " + err.Error()
	}
	return strings.Join(fields, " ") + "\n" + strings.Join(rows, "\n")
}

const ordersCSV = `id,amount,paid,at,note
1,12.5,true,2024-01-01T10:00:00Z,first
2,3,false,2024-01-01T11:30:00+01:00,
3,,true,,"with, comma"
`

func TestReadInfersTheNarrowestTypeOfEverySampledValue(t *testing.T) {
	rr, err := files.Read(strings.NewReader(ordersCSV), files.ReadOpts{Format: files.CSV, BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := "id:int64 amount:float64 paid:bool at:timestamp[us, tz=UTC] note:utf8\n" +
		"1|12.5|true|2024-01-01T10:00:00Z|first\n2|3|false|2024-01-01T10:30:00Z|NULL\n3|NULL|true|NULL|with, comma"
	if got := dump(t, rr); got != want {
		t.Errorf("csv:\n%s\nwant\n%s", got, want)
	}
	ndjson := `{"id": 1, "amount": 12.5, "paid": true, "at": "2024-01-01T10:00:00Z", "note": "first"}
{"id": 2, "amount": 3, "paid": false, "at": "2024-01-01T11:30:00+01:00", "note": null}

{"id": 3, "paid": true, "note": "with, comma"}
`
	rr, err = files.Read(strings.NewReader(ndjson), files.ReadOpts{Format: files.NDJSON, SampleRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	want = "amount:float64 at:timestamp[us, tz=UTC] id:int64 note:utf8 paid:bool\n" +
		"12.5|2024-01-01T10:00:00Z|1|first|true\n3|2024-01-01T10:30:00Z|2|NULL|false\nNULL|NULL|3|with, comma|true"
	if got := dump(t, rr); got != want {
		t.Errorf("ndjson:\n%s\nwant\n%s", got, want)
	}
}

func TestReadRefusesWhatDoesNotFitNamingIt(t *testing.T) {
	declared := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "amount", Type: arrow.PrimitiveTypes.Float64}}, nil)
	if _, err := files.Read(strings.NewReader(ordersCSV), files.ReadOpts{Format: files.CSV, Schema: declared}); err == nil ||
		!strings.Contains(err.Error(), `csv header ["id" "amount" "paid" "at" "note"] does not name the declared columns ["id" "amount"]`) {
		t.Errorf("header mismatch: %v", err)
	}
	// Inferred from the first row as int64; the third is not.
	rr, err := files.Read(strings.NewReader("id\n1\n2\nthree\n"), files.ReadOpts{Format: files.CSV, SampleRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(t, rr); !strings.HasPrefix(got, "error: ") || !strings.Contains(got, "three") {
		t.Errorf("a row outside the inferred type: %s", got)
	}
	if _, err := files.Read(strings.NewReader(`{"id": 1, "tags": ["a"]}`), files.ReadOpts{Format: files.NDJSON}); err == nil ||
		!strings.Contains(err.Error(), `ndjson field "tags" holds []interface {} values; inference reads numbers, booleans and strings only: declare a schema`) {
		t.Errorf("nested: %v", err)
	}
	if _, err := files.Read(strings.NewReader(""), files.ReadOpts{Format: "xml"}); err == nil || !strings.Contains(err.Error(), `format "xml" is not one of csv, ndjson`) {
		t.Errorf("format: %v", err)
	}
	bad := arrow.NewSchema([]arrow.Field{{Name: "m", Type: arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.String)}}, nil)
	if _, err := files.Read(strings.NewReader("m\n"), files.ReadOpts{Format: files.CSV, Schema: bad}); err == nil || !strings.Contains(err.Error(), "declared schema") {
		t.Errorf("unreadable declared type: %v", err)
	}
}

func TestImportAndConvertThroughABucket(t *testing.T) {
	ctx := context.Background()
	landing := memblob.OpenBucket(nil)
	defer landing.Close()
	if err := landing.WriteAll(ctx, "landing/2024/01/02/orders.csv", []byte(ordersCSV), nil); err != nil {
		t.Fatal(err)
	}
	days := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01", Location: "Europe/Berlin"})
	im, err := files.NewImport(files.ImportOpts{Bucket: landing, Path: `landing/{{ .Start.Format "2006/01/02" }}/orders.csv`, Read: files.ReadOpts{Format: files.CSV}})
	if err != nil {
		t.Fatal(err)
	}
	a := &pipelines.Asset{Key: "orders", Partitions: days, CodeVersion: im.CodeVersion(), Compute: im.Compute}
	b := memblob.OpenBucket(nil)
	defer b.Close()
	stage := verify.NewStage(b, "orders", "v1", []string{"2024-01-02"})
	if err := a.Compute(ctx, pipelines.NewTask(a, []string{"2024-01-02"}, partitions.Range{Lo: 1, Hi: 2}, nil, stage)); err != nil {
		t.Fatal(err)
	}
	sealed, err := stage.Seal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := parquet.ReadFile(ctx, stage, "2024-01-02", "data.parquet", nil)
	if err != nil || tbl.NumRows() != 3 || tbl.NumCols() != 5 {
		t.Fatalf("imported %v, %v", tbl, err)
	}
	tbl.Release()

	// The object of a day that has not landed: retried, not permanent.
	stage3 := verify.NewStage(b, "orders", "v2", []string{"2024-01-03"})
	err = a.Compute(ctx, pipelines.NewTask(a, []string{"2024-01-03"}, partitions.Range{Lo: 2, Hi: 3}, nil, stage3))
	if err == nil || pipelines.IsPermanent(err) || !strings.Contains(err.Error(), "object landing/2024/01/03/orders.csv does not exist") {
		t.Errorf("missing object: %v (permanent %v)", err, pipelines.IsPermanent(err))
	}

	// Out again as NDJSON, from the promoted (here: sealed) version.
	conv, err := files.NewConvert(files.ConvertOpts{Format: files.NDJSON})
	if err != nil {
		t.Fatal(err)
	}
	out := &pipelines.Asset{Key: "orders_json", Partitions: days, Deps: []pipelines.Dep{pipelines.On("orders")}, Compute: conv.Compute}
	in := verify.NewInput(b, "orders", []verify.PartitionVersion{{Key: "2024-01-02", Version: "v1", ManifestSHA256: sealed[0].ManifestSHA256}})
	ostage := verify.NewStage(b, "orders_json", "v1", []string{"2024-01-02"})
	if err := out.Compute(ctx, pipelines.NewTask(out, []string{"2024-01-02"}, partitions.Range{Lo: 1, Hi: 2}, []pipelines.Input{in}, ostage)); err != nil {
		t.Fatal(err)
	}
	r, err := ostage.Open(ctx, "2024-01-02", "data.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got bytes.Buffer
	io.Copy(&got, r)
	want := `{"amount":12.5,"at":"2024-01-01T10:00:00Z","id":1,"note":"first","paid":true}` + "\n" +
		`{"amount":3,"at":"2024-01-01T10:30:00Z","id":2,"note":null,"paid":false}` + "\n" +
		`{"amount":null,"at":null,"id":3,"note":"with, comma","paid":true}` + "\n"
	if got.String() != want {
		t.Errorf("ndjson out:\n%s\nwant\n%s", got.String(), want)
	}
}

func TestWriteCSVRoundTrips(t *testing.T) {
	rr, err := files.Read(strings.NewReader(ordersCSV), files.ReadOpts{Format: files.CSV})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := files.Write(&buf, rr, files.CSV)
	rr.Release()
	if err != nil || n != 3 {
		t.Fatalf("write: %d rows, %v", n, err)
	}
	again, err := files.Read(bytes.NewReader(buf.Bytes()), files.ReadOpts{Format: files.CSV})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := files.Read(strings.NewReader(ordersCSV), files.ReadOpts{Format: files.CSV})
	if a, b := dump(t, first), dump(t, again); a != b {
		t.Errorf("round trip:\n%s\nbecame\n%s\nfrom\n%s", a, b, buf.String())
	}
}

func TestDatesAreInferredInBothFormats(t *testing.T) {
	for format, in := range map[files.Format]string{
		files.CSV:    "day,n\n2024-01-01,1\n2024-01-02,2\n",
		files.NDJSON: "{\"day\": \"2024-01-01\", \"n\": 1}\n{\"day\": \"2024-01-02\", \"n\": 2}\n",
	} {
		rr, err := files.Read(strings.NewReader(in), files.ReadOpts{Format: format})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dump(t, rr), "day:date32 n:int64\n2024-01-01|1\n2024-01-02|2"; got != want {
			t.Errorf("%s:\n%s\nwant\n%s", format, got, want)
		}
	}
}
