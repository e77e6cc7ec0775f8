package load

import (
	"math"
	"time"
)

// arrivalAt is the intended time of a step's k-th arrival (from 0), counted from the step's start: k/Rate apart for a
// constant step; for a bursty one, each period's arrivals packed into its first quarter.
func arrivalAt(s Step, k int64) time.Duration {
	if !s.Bursty {
		return time.Duration(float64(k) / s.Rate * float64(time.Second))
	}
	perPeriod := int64(math.Max(1, math.Round(s.Rate*s.BurstPeriod.Seconds())))
	period, i := k/perPeriod, k%perPeriod
	return time.Duration(period)*s.BurstPeriod + time.Duration(float64(i)/float64(perPeriod)*float64(s.BurstPeriod/4))
}

// arrivals is how many arrivals a step has in all: Rate × Duration, rounded.
func arrivals(s Step) int64 {
	return int64(math.Round(s.Rate * s.Duration.Seconds()))
}
