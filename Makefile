# How `sam build` builds each function (BuildMethod: makefile, in source; see samconfig.toml).
#
# Each function is its own package, built with `-p` so that it links only the capabilities its
# group serves: `cargo lambda build --bin <name>` from the workspace root would resolve features
# for every member at once and link every capability into every function.
# Needs cargo-lambda (pip install cargo-lambda) and, for arm64, Zig (it comes with it).

define function
	cargo lambda build --release --arm64 -p $(1)
	cp target/lambda/$(1)/bootstrap $(ARTIFACTS_DIR)/bootstrap
endef

build-HealthFunction:
	$(call function,health)

build-AuthFunction:
	$(call function,auth)

build-StudiosFunction:
	$(call function,studios)

build-BookingsFunction:
	$(call function,bookings)

build-NotificationsFunction:
	$(call function,notifications)

build-PaymentsFunction:
	$(call function,payments)

build-InventoryFunction:
	$(call function,inventory)

build-ProjectsFunction:
	$(call function,projects)

build-ReportsFunction:
	$(call function,reports)

build-ExportsWorkerFunction:
	$(call function,exports-worker)

build-RealtimeFunction:
	$(call function,realtime)

build-NotificationsWorkerFunction:
	$(call function,notifications-worker)

build-SchedulerFunction:
	$(call function,scheduler)


.PHONY: build-HealthFunction build-AuthFunction build-StudiosFunction build-BookingsFunction build-NotificationsFunction \
	build-PaymentsFunction build-InventoryFunction build-ProjectsFunction build-ReportsFunction build-ExportsWorkerFunction build-RealtimeFunction build-NotificationsWorkerFunction build-SchedulerFunction
