//go:build race

package sim

// raceEnabled: the race detector slows the pure-Go SQLite about tenfold (checkptr on its
// translated C), so a seed runs fewer steps to keep the CI run short; seeds stay as many.
const raceEnabled = true
