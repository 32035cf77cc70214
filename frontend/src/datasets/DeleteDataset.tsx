// Deleting a dataset: the button asks first (ConfirmDialog), then deletes and says so
// if the server refuses.
import { useState } from "react";
import { ConfirmDialog } from "@/components/ConfirmDialog";
import { useDeleteDataset } from "./api";

interface Target {
  id: string;
  name: string;
}

/** One confirmation per page (the dialog's heading id is fixed), aimed at one dataset. */
export function useDeleteConfirmation(onDeleted?: () => void) {
  const [target, setTarget] = useState<Target | null>(null);
  const remove = useDeleteDataset();
  const close = () => {
    setTarget(null);
    remove.reset();
  };
  const dialog = (
    <ConfirmDialog
      open={target !== null}
      title="Delete dataset?"
      confirmLabel="Delete"
      busy={remove.isPending}
      onCancel={close}
      onConfirm={() => {
        if (!target) return;
        remove.mutate(target.id, {
          onSuccess: () => {
            setTarget(null);
            onDeleted?.();
          },
        });
      }}
    >
      <p>
        “{target?.name}” and its stored file will be deleted for everyone in this workspace. This cannot be
        undone.
      </p>
      {remove.error && (
        <p role="alert" className="error">
          {remove.error.message}
        </p>
      )}
    </ConfirmDialog>
  );
  return { ask: setTarget, dialog };
}

export function DeleteButton({ dataset, onClick }: { dataset: Target; onClick: (t: Target) => void }) {
  return (
    <button type="button" aria-label={`Delete ${dataset.name}`} onClick={() => onClick(dataset)}>
      Delete
    </button>
  );
}
