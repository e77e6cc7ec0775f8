package inbox

import "time"

// FetchWait returns the kafka-go ReaderConfig.MaxWait under which the broker waits up to wait for new records and
// the reader then allows one second more for the answer to arrive.
//
// kafka-go sends the broker MaxWait less one second (less a quarter of it when MaxWait is under a second) and
// reads the answer by MaxWait. A MaxWait of a few hundred milliseconds therefore leaves the answer a margin of tens
// of milliseconds: a loaded node whose broker needs longer to build a large answer times out, and the reader
// retries the same fetch, which times out again, for ever (the live feed once read nothing for three minutes on a
// busy machine). With FetchWait the margin is a second whatever wait is, and an idle fetch still returns after
// wait, which is how long a reader's Close may wait for it.
func FetchWait(wait time.Duration) time.Duration { return wait + time.Second }
