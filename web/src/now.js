// useNow is the current time in milliseconds, refreshed every `ms`: what clocks, ages and countdowns render from.
import { useState, useEffect } from 'preact/hooks';

export function useNow(ms) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}
