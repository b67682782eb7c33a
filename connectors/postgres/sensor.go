package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/weir-dev/weir/sensor"
)

// CursorSensorOpts configures a CursorSensor.
type CursorSensorOpts struct {
	// Pool connects to the database. Required.
	Pool *pgxpool.Pool
	// Query returns a row per new input: its partition key (text) and its
	// cursor value (bigint or timestamptz), given the last cursor value as
	// $1, NULL at the first poll. Group by key to keep it small. Required.
	//
	//	SELECT to_char(created_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD'), max(updated_at)
	//	FROM orders WHERE $1::timestamptz IS NULL OR updated_at > $1 GROUP BY 1
	Query string
}

// CursorSensor is a sensor.Source over a query whose cursor column
// advances as rows arrive or change: each poll reports the partitions of
// the rows past the last cursor.
type CursorSensor struct{ opts CursorSensorOpts }

// NewCursorSensor validates opts and returns the source.
func NewCursorSensor(opts CursorSensorOpts) (*CursorSensor, error) {
	if opts.Pool == nil {
		return nil, errors.New("postgres cursor sensor: Pool is required")
	}
	if !strings.Contains(opts.Query, "$1") {
		return nil, fmt.Errorf("postgres cursor sensor: the query must compare its cursor column with $1 (the last cursor value), or every poll reads everything")
	}
	return &CursorSensor{opts: opts}, nil
}

func (c *CursorSensor) String() string {
	return "postgres query " + strings.Join(strings.Fields(c.opts.Query), " ")
}

// noRows is the cursor of a first poll that found no rows: the next poll
// passes NULL again, and every row it finds is new.
const noRows = "none"

// Poll runs the query from cursor.
func (c *CursorSensor) Poll(ctx context.Context, cursor string) (sensor.Poll, error) {
	var arg any
	switch {
	case cursor == "" || cursor == noRows:
	case strings.HasPrefix(cursor, "int:"):
		n, err := strconv.ParseInt(strings.TrimPrefix(cursor, "int:"), 10, 64)
		if err != nil {
			return sensor.Poll{}, fmt.Errorf("cursor %q: %w", cursor, err)
		}
		arg = n
	case strings.HasPrefix(cursor, "time:"):
		t, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(cursor, "time:"))
		if err != nil {
			return sensor.Poll{}, fmt.Errorf("cursor %q: %w", cursor, err)
		}
		arg = t
	default:
		return sensor.Poll{}, fmt.Errorf("cursor %q is not one this sensor wrote (int:N or time:RFC3339)", cursor)
	}
	rows, err := c.opts.Pool.Query(ctx, c.opts.Query, arg)
	if err != nil {
		return sensor.Poll{}, err
	}
	defer rows.Close()
	p := sensor.Poll{Cursor: cursor}
	var maxInt int64
	var maxTime time.Time
	kind := ""
	for rows.Next() {
		var key string
		var v any
		if err := rows.Scan(&key, &v); err != nil {
			return sensor.Poll{}, fmt.Errorf("a row of the sensor query: %w (want a partition key as text and a cursor as bigint or timestamptz)", err)
		}
		switch x := v.(type) {
		case int64:
			kind, maxInt = "int", max(maxInt, x)
		case int32:
			kind, maxInt = "int", max(maxInt, int64(x))
		case time.Time:
			kind = "time"
			if x.After(maxTime) {
				maxTime = x
			}
		default:
			return sensor.Poll{}, fmt.Errorf("the sensor query's cursor column is %T; want bigint or timestamptz", v)
		}
		p.Arrivals++
		if !slices.Contains(p.Keys, key) {
			p.Keys = append(p.Keys, key)
		}
	}
	if err := rows.Err(); err != nil {
		return sensor.Poll{}, err
	}
	switch kind {
	case "int":
		p.Cursor = "int:" + strconv.FormatInt(maxInt, 10)
	case "time":
		p.Cursor = "time:" + maxTime.UTC().Format(time.RFC3339Nano)
	default:
		if cursor == "" {
			p.Cursor = noRows
		}
	}
	return p, nil
}
