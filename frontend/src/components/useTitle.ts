import { useEffect } from "react";

/** The page's title, so browser history and screen readers name each screen. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = title ? `${title} · MediLytica` : "MediLytica";
  }, [title]);
}
