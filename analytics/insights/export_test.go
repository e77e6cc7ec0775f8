package insights

import "time"

// SetPastWindow sets how far before a past range's end the conversations active after it are read (summary.go),
// and returns what restores it. Only for a test that runs alone (not parallel).
func SetPastWindow(d time.Duration) (restore func()) {
	old := pastWindow
	pastWindow = d
	return func() { pastWindow = old }
}
