// Package app holds the use cases. Ports call them; adapters implement the interfaces they declare.
package app

import (
	"github.com/certibuy/orders/app/command"
	"github.com/certibuy/orders/app/query"
)

// Application is every use case the ports can call.
type Application struct {
	Commands Commands
	Queries  Queries
	Admins   command.AdminUsers
}

// Commands change orders.
type Commands struct {
	PlaceOrder      command.PlaceOrderHandler
	ConfirmPayment  command.ConfirmPaymentHandler
	HandleWebhook   command.HandleWebhookHandler
	CancelOrder     command.CancelOrderHandler
	AdminTransition command.AdminTransitionHandler
	// ResendNotification queues a failed notification again.
	ResendNotification command.ResendNotificationHandler
	// RetryRefund asks the gateway again for an outstanding refund.
	RetryRefund command.RetryRefundHandler
	// SweepRefunds asks again, on the service's own, for the refunds still owed.
	SweepRefunds command.SweepRefundsHandler
	// DeliveryReports takes SMS delivery reports in and folds them into their notifications.
	DeliveryReports command.DeliveryReportsHandler
}

// Queries read them.
type Queries struct {
	CustomerOrder query.CustomerOrderHandler
	AuditEvents   query.AuditEventsHandler
	OrderAsOf     query.OrderAsOfHandler
	ListOrders    query.ListOrdersHandler
	AdminOrder    query.AdminOrderHandler
	OrderHistory  query.OrderHistoryHandler
	PaymentPage   query.PaymentPageHandler
	Notifications query.ListNotificationsHandler
	// OrderPage is the customer's order page, opened by a link in their messages; ShortLink follows
	// the short links of SMS.
	OrderPage query.OrderPageHandler
	ShortLink query.ShortLinkHandler
	// The console's: one notification with its message, the home page's figures, who an actor is,
	// and what a stream is about.
	NotificationDetail query.NotificationDetailHandler
	Dashboard          query.DashboardHandler
	People             query.PeopleHandler
	StreamLabels       query.StreamLabelsHandler
}
