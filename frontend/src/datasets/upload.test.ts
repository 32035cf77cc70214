import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "@/api/client";
import { uploadDataset } from "./upload";

/** Just enough of XMLHttpRequest: records the request, answers when told. */
class FakeXhr {
  static last: FakeXhr;
  method = "";
  url = "";
  headers: Record<string, string> = {};
  body: unknown;
  status = 0;
  responseText = "";
  responseType = "";
  upload = { onprogress: null as ((event: ProgressEvent) => void) | null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send(body: unknown) {
    this.body = body;
  }
  abort() {
    this.onabort?.();
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

const fields = {
  file: new File(["a,b\n1,2\n"], "tiny.csv", { type: "text/csv" }),
  name: " Tiny ",
  description: "",
  workspace: "00000000-0000-4000-8000-0000000000aa",
};

describe("uploadDataset", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("posts the form with the CSRF token and reports progress", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    document.cookie = "csrftoken=tok123";
    const progress: number[] = [];
    const pending = uploadDataset(fields, (fraction) => progress.push(fraction));
    const xhr = FakeXhr.last;
    expect([xhr.method, xhr.url, xhr.headers["X-CSRFToken"]]).toEqual(["POST", "/api/data/upload/", "tok123"]);
    const form = xhr.body as FormData;
    expect([form.get("name"), form.has("description"), form.get("workspace")]).toEqual([
      "Tiny",
      false,
      fields.workspace,
    ]);
    xhr.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 200 } as ProgressEvent);
    xhr.answer(202, { id: "d1", name: "Tiny", status: "processing" });
    await expect(pending).resolves.toMatchObject({ name: "Tiny", status: "processing" });
    expect(progress).toEqual([0.25]);
  });

  it("rejects with the server's words", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const pending = uploadDataset(fields, () => {});
    FakeXhr.last.answer(413, { detail: "The file is larger than the upload limit of 500 MB.", code: "too_large" });
    const error = await pending.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 413, message: "The file is larger than the upload limit of 500 MB." });
  });

  it("words a field error with its field", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    const pending = uploadDataset(fields, () => {});
    FakeXhr.last.answer(400, { file: ["The submitted file is empty."] });
    await expect(pending).rejects.toThrow("file: The submitted file is empty.");
  });
});
