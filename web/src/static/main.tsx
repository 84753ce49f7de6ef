// The exported report page (a second build entry, one self-contained script + css in the
// dashboard's dist as static-report.js / static-report.css): it reads the API answers embedded in
// the file, answers every GET from them (never the network; writes are refused) and renders the
// report page read-only. Opened from disk, it needs nothing else.

import { render } from "preact";
import "katex/dist/katex.min.css";
import "uplot/dist/uPlot.min.css";
import "../style.css";
import "./static.css";
import { setReplay } from "../api/client";
import { ReportPage } from "../pages/report/ReportPage";
import { DATA_ID } from "../reports/export/html";
import { replayFrom, type ExportData } from "../reports/export/record";

function readData(): ExportData | null {
  const el = document.getElementById(DATA_ID);
  if (el?.textContent == null) return null;
  try {
    const data = JSON.parse(el.textContent) as Partial<ExportData> | null;
    return data?.format === 1 && typeof data.answers === "object" ? (data as ExportData) : null;
  } catch {
    return null;
  }
}

function StaticReport(props: { data: ExportData }) {
  const { data } = props;
  const when = new Date(data.exported_at * 1000).toISOString().replace("T", " ").slice(0, 16);
  return (
    <div class="app static-report">
      <header class="topbar static-report-bar" data-testid="static-report-bar">
        <span class="brand">
          <span class="brand-mark" aria-hidden="true" />
          fwtrack
        </span>
        <span class="muted">
          {data.entity}/{data.project} · exported {when} UTC · a static copy: its data is as of the export
        </span>
      </header>
      <main id="main" class="main" tabIndex={-1}>
        <ReportPage entity={data.entity} project={data.project} reportId={data.reportId} params={{}} viewer={null} />
      </main>
    </div>
  );
}

const root = document.getElementById("app");
const data = readData();
if (root !== null) {
  if (data === null) {
    root.textContent = "This file holds no fwtrack report data (the embedded data is missing or damaged); export the report again.";
  } else {
    setReplay(replayFrom(data.answers));
    render(<StaticReport data={data} />, root);
  }
}
