// Small SVG charts for bench results: readable in a browser or on GitHub without running anything.
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/**
 * A line chart. series: [{ name, points: [[x, y], ...] }]; x is categorical (labels in order of
 * first appearance), y linear from 0.
 */
export function lineChart({ title, xLabel, yLabel, series, width = 720, height = 400 }) {
  const left = 70, right = 180, top = 40, bottom = 60;
  const plotW = width - left - right, plotH = height - top - bottom;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => String(p[0]))))];
  const maxY = Math.max(1e-9, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const niceMax = niceCeil(maxY);
  const px = (x) => left + (xs.length === 1 ? plotW / 2 : (xs.indexOf(String(x)) * plotW) / (xs.length - 1));
  const py = (y) => top + plotH - (y / niceMax) * plotH;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`];
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  for (let i = 0; i <= 5; ++i) {
    const v = (niceMax * i) / 5;
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${py(v)}" y2="${py(v)}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${py(v) + 4}" text-anchor="end">${esc(fmt(v))}</text>`);
  }
  xs.forEach((x) => out.push(`<text x="${px(x)}" y="${top + plotH + 18}" text-anchor="middle">${esc(x)}</text>`));
  out.push(`<text x="${left + plotW / 2}" y="${height - 15}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of s.points) out.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${color}"/>`);
    out.push(`<rect x="${left + plotW + 15}" y="${top + i * 20}" width="12" height="12" fill="${color}"/>`);
    out.push(`<text x="${left + plotW + 32}" y="${top + i * 20 + 10}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Grouped horizontal bars: rows [{ label, values: { seriesName: number } }]. */
export function barChart({ title, xLabel, rows, series, width = 720 }) {
  const left = 200, right = 40, top = 40, barH = 14, gap = 10;
  const height = top + rows.length * (series.length * barH + gap) + 60;
  const plotW = width - left - right;
  const maxV = niceCeil(Math.max(1e-9, ...rows.flatMap((r) => series.map((s) => r.values[s] ?? 0))));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`];
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  rows.forEach((r, i) => {
    const y0 = top + i * (series.length * barH + gap);
    out.push(`<text x="${left - 8}" y="${y0 + (series.length * barH) / 2 + 4}" text-anchor="end">${esc(r.label)}</text>`);
    series.forEach((s, j) => {
      const v = r.values[s] ?? 0;
      out.push(`<rect x="${left}" y="${y0 + j * barH}" width="${((v / maxV) * plotW).toFixed(1)}" height="${barH - 2}" fill="${COLORS[j % COLORS.length]}"/>`);
      out.push(`<text x="${left + (v / maxV) * plotW + 4}" y="${y0 + j * barH + 10}" font-size="10">${esc(fmt(v))}</text>`);
    });
  });
  const yAxis = height - 40;
  out.push(`<text x="${left + plotW / 2}" y="${yAxis + 25}" text-anchor="middle">${esc(xLabel)}</text>`);
  series.forEach((s, j) => {
    out.push(`<rect x="${left + j * 150}" y="${yAxis}" width="12" height="12" fill="${COLORS[j % COLORS.length]}"/>`);
    out.push(`<text x="${left + j * 150 + 16}" y="${yAxis + 10}">${esc(s)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}
