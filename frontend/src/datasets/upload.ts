// The dataset upload, over XMLHttpRequest because fetch cannot report upload progress.
import { ApiError, csrfToken, SESSION_EXPIRED } from "@/api/client";
import type { Dataset } from "./api";

export interface UploadFields {
  file: File;
  name: string;
  description: string;
  workspace: string;
}

/** Sends the file; resolves with the dataset (201 ready, or 202 still processing). */
export function uploadDataset(
  fields: UploadFields,
  onProgress: (fraction: number) => void,
  signal?: AbortSignal,
): Promise<Dataset> {
  const form = new FormData();
  form.append("file", fields.file);
  if (fields.name.trim()) form.append("name", fields.name.trim());
  if (fields.description.trim()) form.append("description", fields.description.trim());
  form.append("workspace", fields.workspace);

  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/data/upload/");
    xhr.responseType = "text";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      const body = parseJson(xhr.responseText);
      if (xhr.status === 201 || xhr.status === 202) {
        resolve(body as Dataset);
        return;
      }
      if (xhr.status === 401) window.dispatchEvent(new Event(SESSION_EXPIRED));
      reject(new ApiError(xhr.status, body));
    };
    // A server that refuses a body part-way (too large) may close the connection
    // before the browser reads its answer; say what that most likely means.
    xhr.onerror = () =>
      reject(
        new ApiError(0, {
          detail:
            "The upload was cut off before the server answered. Check your connection; " +
            "if the file is very large, it may be over the server's upload limit.",
          code: "network",
        }),
      );
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}

function parseJson(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}
