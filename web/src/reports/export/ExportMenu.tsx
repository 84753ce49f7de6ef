// The report page's "Export" menu: a self-contained static HTML file, or Markdown + PNG panels.

export function ExportMenu(props: { entity: string; project: string; reportId: string; title: string; root: () => HTMLElement | null }) {
  void props;
  return (
    <span class="report-export" data-testid="report-export">
      <button type="button" data-testid="export-html" disabled>
        Export HTML
      </button>
      <button type="button" data-testid="export-markdown" disabled>
        Export Markdown
      </button>
    </span>
  );
}
