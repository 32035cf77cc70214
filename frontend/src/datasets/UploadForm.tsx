// The upload form: file, optional name and description, progress while it sends, and the
// server's own words when it refuses. The chosen file stays chosen after a failure.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { ApiError } from "@/api/client";
import { useWorkspace } from "@/workspace/WorkspaceContext";
import { lifecycle } from "./api";
import { uploadDataset } from "./upload";

const ACCEPT = ".csv,.tsv,.txt,.parquet,.gz,.zip,.npz";

export function UploadForm() {
  const { workspace } = useWorkspace();
  const client = useQueryClient();
  const ids = { file: useId(), name: useId(), description: useId(), progress: useId(), help: useId() };
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const controller = useRef<AbortController | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  useEffect(() => () => controller.current?.abort(), []);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const file = fileInput.current?.files?.[0];
    if (!file) {
      setError("Choose a file to upload.");
      fileInput.current?.focus();
      return;
    }
    const text = (name: string) => (form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? "";
    setError(null);
    setDone(null);
    setProgress(0);
    controller.current = new AbortController();
    try {
      const dataset = await uploadDataset(
        {
          file,
          name: text("name"),
          description: text("description"),
          workspace: workspace.id,
        },
        setProgress,
        controller.current.signal,
      );
      form.reset();
      setDone(
        lifecycle(dataset).status === "processing"
          ? `Uploaded ${dataset.name}; the server is reading it now.`
          : `Uploaded ${dataset.name}.`,
      );
      await client.invalidateQueries({ queryKey: ["datasets"] });
    } catch (caught) {
      if (caught instanceof DOMException && caught.name === "AbortError") return;
      setError(caught instanceof ApiError ? caught.message : "The upload failed.");
    } finally {
      setProgress(null);
    }
  }

  const sending = progress !== null;
  const percent = Math.round((progress ?? 0) * 100);
  return (
    <form className="card upload-form" onSubmit={submit} aria-labelledby={`${ids.file}-title`}>
      <h2 id={`${ids.file}-title`}>Upload a dataset</h2>
      <div className="upload-fields">
        <div>
          <label htmlFor={ids.file}>Dataset file</label>
          <input
            id={ids.file}
            name="file"
            type="file"
            ref={fileInput}
            accept={ACCEPT}
            aria-required="true"
            aria-describedby={ids.help}
            disabled={sending}
          />
          <p id={ids.help} className="field-help">
            CSV, TSV, text or Parquet (optionally .gz); images as a .zip of class folders or .npz.
          </p>
        </div>
        <div>
          <label htmlFor={ids.name}>Name</label>
          <input id={ids.name} name="name" maxLength={200} disabled={sending} />
        </div>
        <div className="upload-description">
          <label htmlFor={ids.description}>Description</label>
          <input id={ids.description} name="description" maxLength={2000} disabled={sending} />
        </div>
      </div>
      <div className="upload-actions">
        <button type="submit" className="primary" disabled={sending}>
          Upload
        </button>
        {sending && (
          <div className="upload-progress">
            <label htmlFor={ids.progress}>Upload progress</label>
            <progress id={ids.progress} max={100} value={percent}>
              {percent}%
            </progress>
            <span aria-hidden="true">{percent}%</span>
          </div>
        )}
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <p role="status" className="upload-done">
        {done}
      </p>
    </form>
  );
}
