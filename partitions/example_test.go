package partitions_test

import (
	"fmt"
	"time"

	"github.com/weir-dev/weir/partitions"
)

func ExampleNewTimeWindow() {
	hourly, err := partitions.NewTimeWindow(partitions.TimeWindowOpts{
		Grain: partitions.Hourly, Start: "2024-11-03", Location: "America/New_York",
	})
	if err != nil {
		panic(err)
	}
	// Clocks fall back at 02:00: the day has two 01:00 hours, with different keys.
	for i := int64(0); i < 4; i++ {
		fmt.Println(hourly.Key(i))
	}
	// Output:
	// 2024-11-03T00:00-04:00
	// 2024-11-03T01:00-04:00
	// 2024-11-03T01:00-05:00
	// 2024-11-03T02:00-05:00
}

func ExampleParse() {
	daily := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2015-01-01"})
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	all := partitions.All(daily, now)
	done, _ := partitions.Parse(daily, "2015-01-01...2019-12-31,2021-06-01", now)
	missing := all.Difference(done)
	fmt.Println(missing.Len(), "missing:", partitions.Format(daily, missing))
	fmt.Println(len(missing.Ranges()), "ranges, however many days")
	// Output:
	// 1826 missing: 2020-01-01...2021-05-31,2021-06-02...2024-12-31
	// 2 ranges, however many days
}

func ExampleTrailing() {
	daily := partitions.MustTimeWindow(partitions.TimeWindowOpts{Grain: partitions.Daily, Start: "2024-01-01"})
	now := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	day, _ := partitions.Resolve(daily, "2024-01-20", now)
	up, _ := partitions.Trailing(7).Upstream(daily, daily, partitions.Of(day), now)
	fmt.Println(partitions.Format(daily, up))
	// Output: 2024-01-14...2024-01-20
}
