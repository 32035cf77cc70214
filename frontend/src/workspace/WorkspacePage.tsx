// Being built: replaced by its screen in this change.
export default function WorkspacePage() {
  return <h1>WorkspacePage</h1>;
}
