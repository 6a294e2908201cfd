// Package sim is a deterministic simulation of the payment core: a seeded random sequence of
// merchant calls (pay with every kind of test card, 3-D Secure codes, capture, cancel, refund,
// inquiry, replays of the same request id), clock moves with the due work they trigger, and
// notification deliveries, run against the real SQLite store while faults are injected around it:
// store errors before or after a commit (the latter is a lost commit acknowledgement), process
// crashes in the middle of a call or between calls (the service and everything in memory are
// thrown away, the store is reopened from its file and recovery runs the due work), crashes while
// an authorization is at the acquirer (which has booked it or not; the payment's in-flight lease is
// left for due work RESOLVE to settle by the gateway's reference once it passes), and acquirer
// timeouts before the request is sent or after it took effect (a lost response). After every step
// the invariants of docs/design.md are checked against the database.
//
// The fault wrappers live here; the driver is sim_test.go and the invariant checks check_test.go.
// Beyond docs/design.md's invariants the checks hold the gateway to the acquirer's side of the story
// (the wrapper keeps a ledger of what the acquirer did): once every deadline has passed, every
// authorization the acquirer approved is captured or voided, and every refund it made is a
// successful refund at the gateway. When the answer to an authorization is lost, the gateway never
// learns the acquirer's reference; closing such a payment (expiry or cancel) reverses the
// authorization by the gateway's own reference (Acquirer.Reverse), and the checks require that.
// TestSimulation counts these reversals, and the in-flight authorizations RESOLVE settled by
// their outcome. The simulator's own books (simulator.Ledger) outlive the crashes, as serve's
// table sim_acquirer_ledger does.
//
// Running it:
//
//	go test ./internal/sim                                  # 500 seeds of 100 steps
//	go test -race ./internal/sim                            # 500 seeds of 10 steps (see below)
//	go test ./internal/sim -run 'TestSimulation$' -sim.seeds 20000   # nightly-sized, ~20 min on 2 cores
//	go test ./internal/sim -run 'TestSimulation$' -sim.seed 42 -v    # one seed, printing its trace
//	go test ./internal/sim -run 'TestSimulation$' -sim.steps 300     # longer seeds
//
// A failure names its seed; rerunning that seed replays the same steps and faults. The race
// detector makes the pure-Go SQLite about ten times slower, so under -race a seed runs 10 steps
// (the seeds stay 500); .ci/run runs the 500 seeds full length once more without it.
//
// Determinism. Payment, transaction and acquirer ids come from crypto/rand, so the trace (and its
// hash) records only what the seed decides: the operations, their answers' result codes and
// statuses, stages, amounts and the faults injected, never an id. Everything time-dependent in the
// domain reads a clock.Fixed that only the simulation moves. The few wall-clock dependencies are
// neutralised: a replayed pay never waits for a first request still in flight (Config.DuplicateWait
// is negative: calls are sequential, so none is in flight), and due work is listed without leases
// (Service.DueWork, as a single instance may; the work leases of Service.ClaimWork run on the wall
// clock and are the multi-instance suite's subject) and run in an order fixed by due time, kind and
// the payment's creation order rather than by the random payment id the store breaks ties with.
// Residual non-determinism that the hash excludes on purpose: ids, signatures and delivery
// latencies stored with notification attempts.
package sim
