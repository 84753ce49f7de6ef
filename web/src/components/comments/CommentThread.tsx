// The comments of a run, a report or a registered model. (Filled in by the comments work.)

export type CommentTarget = "run" | "report" | "model";

export function CommentThread(props: { entity: string; target: CommentTarget; targetKey: string }) {
  return <section data-testid="comments" data-target={`${props.entity}:${props.target}:${props.targetKey}`} />;
}
