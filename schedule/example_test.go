package schedule_test

import (
	"fmt"
	"time"

	"github.com/weir-dev/weir/schedule"
)

// A nightly schedule in New York across the spring-forward night: 02:30
// does not exist on 10 March 2024, so that tick fires when the clock jumps
// to 03:00.
func ExampleSchedule_Ticks() {
	s := &schedule.Schedule{Name: "nightly", Selection: "*", Cron: "30 2 * * *", Zone: "America/New_York"}
	if err := s.Validate(); err != nil {
		panic(err)
	}
	ny := s.Location()
	for _, t := range s.Ticks(time.Date(2024, 3, 9, 0, 0, 0, 0, ny), time.Date(2024, 3, 12, 0, 0, 0, 0, ny)) {
		fmt.Println(t.In(ny).Format(time.RFC3339))
	}
	// Output:
	// 2024-03-09T02:30:00-05:00
	// 2024-03-10T03:00:00-04:00
	// 2024-03-11T02:30:00-04:00
}

// Validate names the value that is wrong and what is allowed.
func ExampleSchedule_Validate() {
	s := &schedule.Schedule{Name: "nightly", Selection: "*", Cron: "0 2 * *", Zone: "Europe/Berlin"}
	fmt.Println(s.Validate())
	// Output:
	// invalid schedule nightly: cron "0 2 * *": expected exactly 5 fields, found 4: [0 2 * *]; want five fields (minute hour day-of-month month day-of-week, e.g. "0 2 * * *") or @hourly, @daily, @weekly, @monthly, @yearly
}
