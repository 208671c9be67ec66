// plot.ts — figures as SVG, rendered by Vega-Lite → Vega (headless, no canvas or browser).
import * as vega from 'vega';
import * as vl from 'vega-lite';

export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

export interface CurvePoint { model: string; phase: string; x: number; truth: number; pred: number; }
export interface Region { model: string; phase: string; lo: number; hi: number; }

/**
 * The KAN paper's Fig. 3.4 layout: one row per model, one panel per phase; the ground truth in
 * grey, the model's prediction after that phase in colour, the phase's training region shaded.
 */
export function continualFigureSpec(points: CurvePoint[], regions: Region[], title: string, yDomain: [number, number]): vl.TopLevelSpec {
  const clip = (v: number) => Math.max(yDomain[0], Math.min(yDomain[1], v));
  const values = [
    ...regions.map((r) => ({ kind: 'region', model: r.model, phase: r.phase, lo: r.lo, hi: r.hi })),
    ...points.map((p) => ({ kind: 'curve', model: p.model, phase: p.phase, x: p.x, truth: p.truth, pred: clip(p.pred) })),
  ];
  const x = { field: 'x', type: 'quantitative', title: 'x', scale: { domain: [-1, 1] } } as const;
  const y = { type: 'quantitative', scale: { domain: yDomain }, title: 'y' } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    facet: {
      row: { field: 'model', type: 'nominal', title: null, sort: [...new Set(points.map((p) => p.model))],
        header: { labelAngle: 0, labelAlign: 'left', labelLimit: 480 } },
      column: { field: 'phase', type: 'ordinal', title: null, sort: null },
    },
    spec: {
      width: 150, height: 90,
      layer: [
        { transform: [{ filter: "datum.kind === 'region'" }], mark: { type: 'rect', color: '#f2c14e', opacity: 0.25 },
          encoding: { x: { field: 'lo', type: 'quantitative', scale: { domain: [-1, 1] } }, x2: { field: 'hi' } } },
        { transform: [{ filter: "datum.kind === 'curve'" }], mark: { type: 'line', color: '#9a9a9a', strokeWidth: 1, clip: true },
          encoding: { x, y: { ...y, field: 'truth' } } },
        { transform: [{ filter: "datum.kind === 'curve'" }], mark: { type: 'line', color: '#c0392b', strokeWidth: 1.2, clip: true },
          encoding: { x, y: { ...y, field: 'pred' } } },
      ],
    },
    resolve: { scale: { x: 'shared', y: 'shared' } },
  } as vl.TopLevelSpec;
}

export interface SweepPoint { series: string; x: number; y: number; lo: number; hi: number; }

/** Mean forgetting (log scale) against the swept parameter, one line per series, min–max band over seeds. */
export function sweepFigureSpec(points: SweepPoint[], xTitle: string, yTitle: string, title: string): vl.TopLevelSpec {
  const floor = 1e-12;
  const values = points.map((p) => ({ ...p, y: Math.max(floor, p.y), lo: Math.max(floor, p.lo), hi: Math.max(floor, p.hi) }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, width: 420, height: 260,
    data: { values },
    layer: [
      { mark: { type: 'area', opacity: 0.15 },
        encoding: { x: { field: 'x', type: 'quantitative', title: xTitle }, y: { field: 'lo', type: 'quantitative', scale: { type: 'log' } },
          y2: { field: 'hi' }, color: { field: 'series', type: 'nominal', title: null } } },
      { mark: { type: 'line', point: true },
        encoding: { x: { field: 'x', type: 'quantitative', title: xTitle },
          y: { field: 'y', type: 'quantitative', title: yTitle, scale: { type: 'log' } }, color: { field: 'series', type: 'nominal', title: null } } },
    ],
  } as vl.TopLevelSpec;
}
