// Icon draws a small line icon from an SVG path (24×24 box), stroked in the current colour.

/** Icon draws one of the small line icons above (or any path). */
export function Icon({ d, size = 16 }) {
  return (
    <svg class="icon" width={size} height={size} viewBox="0 0 24 24" aria-hidden="true">
      <path d={d} />
    </svg>
  );
}
