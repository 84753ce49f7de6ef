import type { ComponentChild } from "preact";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useState } from "preact/hooks";
import { ConfirmDialog } from "./ConfirmDialog";
import { EditableText } from "./Editable";
import { Tabs } from "./Tabs";
import { TagEditor } from "./TagEditor";
import { SortHeader, nextSort, sortDirection } from "./Table";
import { ErrorState, errorMessage } from "./states";
import { ApiError } from "../api/client";
import { $, click, mount, press, settle, type } from "./test-utils";

const cleanups: (() => void)[] = [];
function m(node: ComponentChild): HTMLElement {
  const { container, unmount } = mount(node);
  cleanups.push(unmount);
  return container;
}
afterEach(() => {
  while (cleanups.length > 0) cleanups.pop()?.();
});

describe("ConfirmDialog", () => {
  function setup(onConfirm: () => Promise<void> = () => Promise.resolve()) {
    const onCancel = vi.fn();
    const opener = document.createElement("button");
    document.body.appendChild(opener);
    opener.focus();
    const c = m(
      <ConfirmDialog title="Delete run?" confirmLabel="Delete" danger onConfirm={onConfirm} onCancel={onCancel}>
        <p>Gone for good.</p>
      </ConfirmDialog>,
    );
    cleanups.push(() => {
      opener.remove();
    });
    return { c, onCancel, opener };
  }

  it("is a labelled modal with the focus on Cancel", () => {
    const { c } = setup();
    const dialog = $(c, "[role=alertdialog]");
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.getElementById(dialog.getAttribute("aria-labelledby") ?? "")?.textContent).toBe("Delete run?");
    expect(document.activeElement).toBe($(c, "[data-testid=confirm-cancel]"));
  });

  it("traps the focus and closes on Escape", () => {
    const { c, onCancel } = setup();
    const cancel = $(c, "[data-testid=confirm-cancel]");
    const ok = $(c, "[data-testid=confirm-ok]");
    ok.focus();
    press(ok, "Tab");
    expect(document.activeElement).toBe(cancel);
    press(cancel, "Tab", { shiftKey: true });
    expect(document.activeElement).toBe(ok);
    press(ok, "Escape");
    expect(onCancel).toHaveBeenCalledTimes(1);
  });

  it("shows the error of a failed confirmation and stays open", async () => {
    const { c } = setup(() => Promise.reject(new ApiError(409, "the run is still being written")));
    click($(c, "[data-testid=confirm-ok]"));
    await settle();
    expect($(c, "[role=alert]").textContent).toBe("the run is still being written");
    expect(($(c, "[data-testid=confirm-ok]") as HTMLButtonElement).disabled).toBe(false);
  });

  it("gives the focus back when it closes", () => {
    const opener = document.createElement("button");
    document.body.appendChild(opener);
    opener.focus();
    const { unmount } = mount(<ConfirmDialog title="t" onConfirm={() => Promise.resolve()} onCancel={() => undefined} />);
    expect(document.activeElement).not.toBe(opener);
    unmount();
    expect(document.activeElement).toBe(opener);
    opener.remove();
  });
});

describe("Tabs", () => {
  function Harness() {
    const [sel, setSel] = useState("a");
    return (
      <Tabs
        label="Sections"
        selected={sel}
        onSelect={setSel}
        tabs={[
          { id: "a", label: "A" },
          { id: "b", label: "B" },
          { id: "c", label: "C" },
        ]}
      />
    );
  }

  it("moves with the arrow keys and keeps one tab in the tab order", () => {
    const c = m(<Harness />);
    const tabs = () => [...c.querySelectorAll<HTMLElement>("[role=tab]")];
    expect(tabs().map((t) => t.tabIndex)).toEqual([0, -1, -1]);
    press($(c, "[data-tab=a]"), "ArrowRight");
    expect($(c, "[data-tab=b]").getAttribute("aria-selected")).toBe("true");
    expect(document.activeElement).toBe($(c, "[data-tab=b]"));
    press($(c, "[data-tab=b]"), "ArrowLeft");
    press($(c, "[data-tab=a]"), "ArrowLeft");
    expect($(c, "[data-tab=c]").getAttribute("aria-selected")).toBe("true");
    press($(c, "[data-tab=c]"), "Home");
    expect(tabs().map((t) => t.tabIndex)).toEqual([0, -1, -1]);
  });
});

describe("EditableText", () => {
  it("saves with Enter, cancels with Escape", async () => {
    const onSave = vi.fn(() => Promise.resolve());
    const c = m(<EditableText value="old" label="Run name" onSave={onSave} testid="t" />);
    click($(c, "button[aria-label='Edit run name']"));
    const input = $(c, "input[aria-label='Run name']");
    expect(document.activeElement).toBe(input);
    type(input, "  new name ");
    press(input, "Escape");
    expect(onSave).not.toHaveBeenCalled();
    expect($(c, "[data-testid=t-value]").textContent).toBe("old");
    click($(c, "button[aria-label='Edit run name']"));
    type($(c, "input"), "  new name ");
    press($(c, "input"), "Enter");
    await settle();
    expect(onSave).toHaveBeenCalledWith("new name");
    expect(c.querySelector("input")).toBeNull();
  });

  it("refuses an empty required value and shows the save's error", async () => {
    const onSave = vi.fn(() => Promise.reject(new ApiError(400, "name is too long")));
    const c = m(<EditableText value="old" label="Run name" required onSave={onSave} />);
    click($(c, "button"));
    type($(c, "input"), "   ");
    press($(c, "input"), "Enter");
    expect($(c, "[role=alert]").textContent).toBe("Run name cannot be empty");
    type($(c, "input"), "x");
    press($(c, "input"), "Enter");
    await settle();
    expect($(c, "[role=alert]").textContent).toBe("name is too long");
    expect(c.querySelector("input")).not.toBeNull();
  });

  it("saves a multiline value with Ctrl+Enter only", async () => {
    const onSave = vi.fn(() => Promise.resolve());
    const c = m(<EditableText value="" label="Notes" multiline onSave={onSave} />);
    click($(c, "button"));
    type($(c, "textarea"), "line 1\nline 2");
    press($(c, "textarea"), "Enter");
    expect(onSave).not.toHaveBeenCalled();
    press($(c, "textarea"), "Enter", { ctrlKey: true });
    await settle();
    expect(onSave).toHaveBeenCalledWith("line 1\nline 2");
  });
});

describe("TagEditor", () => {
  it("adds tags (comma-separated, no duplicates) and removes them", async () => {
    const onChange = vi.fn((next: string[]) => (next.length >= 0 ? Promise.resolve() : Promise.reject(new Error("unreachable"))));
    const c = m(<TagEditor tags={["a"]} onChange={onChange} />);
    const input = $(c, "input[aria-label='Add a tag']");
    type(input, "b, a ,c");
    press(input, "Enter");
    await settle();
    expect(onChange).toHaveBeenLastCalledWith(["a", "b", "c"]);
    expect((input as HTMLInputElement).value).toBe("");
    click($(c, "button[aria-label='Remove tag a']"));
    await settle();
    expect(onChange).toHaveBeenLastCalledWith([]);
  });

  it("keeps the draft and shows the error when saving fails", async () => {
    const c = m(<TagEditor tags={[]} onChange={() => Promise.reject(new ApiError(400, "bad tag"))} />);
    const input = $(c, "input");
    type(input, "x");
    press(input, "Enter");
    await settle();
    expect($(c, "[role=alert]").textContent).toBe("bad tag");
    expect((input as HTMLInputElement).value).toBe("x");
  });
});

describe("SortHeader", () => {
  it("tells the direction with aria-sort and cycles descending -> ascending", () => {
    expect(sortDirection("-created_at", "created_at")).toBe("descending");
    expect(sortDirection("name", "name")).toBe("ascending");
    expect(sortDirection("name", "state")).toBe("none");
    expect(nextSort("-name", "name")).toBe("name");
    expect(nextSort("name", "name")).toBe("-name");
    expect(nextSort("-created_at", "name")).toBe("-name");
    const onSort = vi.fn();
    const c = m(
      <table>
        <thead>
          <tr>
            <SortHeader field="name" sort="name" onSort={onSort}>
              Name
            </SortHeader>
          </tr>
        </thead>
      </table>,
    );
    expect($(c, "th").getAttribute("aria-sort")).toBe("ascending");
    click($(c, "th button"));
    expect(onSort).toHaveBeenCalledWith("-name");
  });
});

describe("states", () => {
  it("shows the server's detail and a retry", () => {
    const onRetry = vi.fn();
    const c = m(<ErrorState error={new ApiError(503, "the database is busy; retry shortly")} onRetry={onRetry} />);
    expect($(c, "[role=alert]").textContent).toContain("the database is busy; retry shortly");
    click($(c, "button"));
    expect(onRetry).toHaveBeenCalled();
    expect(errorMessage("plain")).toBe("plain");
    expect(errorMessage(new Error("boom"))).toBe("boom");
  });
});
