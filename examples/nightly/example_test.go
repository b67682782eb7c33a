package nightly_test

import (
	"fmt"

	"github.com/weir-dev/weir/examples/nightly"
)

func ExampleGenerateOrders() {
	orders, _ := nightly.GenerateOrders("2024-01-15")
	o := orders[0]
	fmt.Println(len(orders), "orders; the first:", o.ID, o.Currency, o.Amount)
	fmt.Println(nightly.Graph().Keys())
	// Output:
	// 2864 orders; the first: 20240115-00000 GBP 276.27
	// [raw_orders cleaned_orders daily_revenue revenue_7d]
}
