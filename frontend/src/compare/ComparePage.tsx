// Being built: replaced by its screen in this change.
export default function ComparePage() {
  return <h1>ComparePage</h1>;
}
