// What gdlab's page script (service/static/gdlab.js) uses of CodeMirror 6, as one global,
// `GdlabEditor`. Only the library is bundled here; how the editor is put together (Tab,
// the keyboard escape, keeping the textarea in sync) is in gdlab.js, where it is read.
export { EditorSelection, EditorState } from "@codemirror/state";
export {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  highlightSpecialChars, drawSelection,
} from "@codemirror/view";
export {
  defaultKeymap, history, historyKeymap, indentMore, indentLess, insertNewlineAndIndent,
} from "@codemirror/commands";
export {
  bracketMatching, indentOnInput, indentUnit, syntaxHighlighting, HighlightStyle,
} from "@codemirror/language";
export { tags } from "@lezer/highlight";
export { python } from "@codemirror/lang-python";
