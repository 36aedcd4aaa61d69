// Prompt templates. `IMAGENET_TEMPLATES` is the 80-prompt ensemble from the CLIP repository's
// notebook "Prompt_Engineering_for_ImageNet.ipynb", in its order; `{}` stands for the class name.

export const IMAGENET_TEMPLATES: readonly string[] = [
  'a bad photo of a {}.',
  'a photo of many {}.',
  'a sculpture of a {}.',
  'a photo of the hard to see {}.',
  'a low resolution photo of the {}.',
  'a rendering of a {}.',
  'graffiti of a {}.',
  'a bad photo of the {}.',
  'a cropped photo of the {}.',
  'a tattoo of a {}.',
  'the embroidered {}.',
  'a photo of a hard to see {}.',
  'a bright photo of a {}.',
  'a photo of a clean {}.',
  'a photo of a dirty {}.',
  'a dark photo of the {}.',
  'a drawing of a {}.',
  'a photo of my {}.',
  'the plastic {}.',
  'a photo of the cool {}.',
  'a close-up photo of a {}.',
  'a black and white photo of the {}.',
  'a painting of the {}.',
  'a painting of a {}.',
  'a pixelated photo of the {}.',
  'a sculpture of the {}.',
  'a bright photo of the {}.',
  'a cropped photo of a {}.',
  'a plastic {}.',
  'a photo of the dirty {}.',
  'a jpeg corrupted photo of a {}.',
  'a blurry photo of the {}.',
  'a photo of the {}.',
  'a good photo of the {}.',
  'a rendering of the {}.',
  'a {} in a video game.',
  'a photo of one {}.',
  'a doodle of a {}.',
  'a close-up photo of the {}.',
  'a photo of a {}.',
  'the origami {}.',
  'the {} in a video game.',
  'a sketch of a {}.',
  'a doodle of the {}.',
  'a origami {}.',
  'a low resolution photo of a {}.',
  'the toy {}.',
  'a rendition of the {}.',
  'a photo of the clean {}.',
  'a photo of a large {}.',
  'a rendition of a {}.',
  'a photo of a nice {}.',
  'a photo of a weird {}.',
  'a blurry photo of a {}.',
  'a cartoon {}.',
  'art of a {}.',
  'a sketch of the {}.',
  'a embroidered {}.',
  'a pixelated photo of a {}.',
  'itap of the {}.',
  'a jpeg corrupted photo of the {}.',
  'a good photo of a {}.',
  'a plushie {}.',
  'a photo of the nice {}.',
  'a photo of the small {}.',
  'a photo of the weird {}.',
  'the cartoon {}.',
  'art of the {}.',
  'a drawing of the {}.',
  'a photo of the large {}.',
  'a black and white photo of a {}.',
  'the plushie {}.',
  'a dark photo of a {}.',
  'itap of a {}.',
  'graffiti of the {}.',
  'a toy {}.',
  'itap of my {}.',
  'a photo of a cool {}.',
  'a photo of a small {}.',
  'a tattoo of the {}.',
];

export const SIMPLE_TEMPLATES: readonly string[] = ['a photo of a {}.'];

export type TemplateChoice = 'imagenet80' | 'simple' | readonly string[];

export class PromptError extends Error {
  override name = 'PromptError';
}

/** The template list for a `templates` parameter; custom lists must put `{}` in every template. */
export function resolveTemplates(choice: TemplateChoice): readonly string[] {
  if (choice === 'imagenet80') return IMAGENET_TEMPLATES;
  if (choice === 'simple') return SIMPLE_TEMPLATES;
  if (!Array.isArray(choice) || choice.length === 0) {
    throw new PromptError(`templates must be "imagenet80", "simple" or a non-empty list of strings, got ${JSON.stringify(choice)}`);
  }
  choice.forEach((t, i) => {
    if (typeof t !== 'string' || !t.includes('{}')) {
      throw new PromptError(`templates[${i}] must be a string containing "{}" for the class name, got ${JSON.stringify(t)}`);
    }
  });
  return choice;
}

/**
 * A class name as it goes into a template: underscores become spaces, so CIFAR-100's `maple_tree`
 * reads "maple tree" as in CLIP's published class lists (data/prompts.md of the CLIP repository).
 */
export function promptClassName(name: string): string {
  return name.replaceAll('_', ' ');
}

/**
 * Prompts as a K × P grid (row k holds the P prompts of class k): templates filled with each class
 * name (see `promptClassName`), or the per-class descriptions (used as written), which must cover every class with the same count P (the
 * text features are a dense [K, P, D] tensor).
 */
export function buildPrompts(
  classes: readonly string[],
  options: { templates?: TemplateChoice; descriptions?: Readonly<Record<string, readonly string[]>> },
): string[][] {
  if (classes.length === 0) throw new PromptError('classes is empty: no prompts to build');
  const { descriptions } = options;
  if (descriptions) {
    const missing = classes.filter((c) => !Object.hasOwn(descriptions, c) || descriptions[c].length === 0);
    if (missing.length > 0) {
      throw new PromptError(`descriptions has no entry for ${missing.length} class(es): ${missing.slice(0, 10).map((c) => JSON.stringify(c)).join(', ')}`);
    }
    const counts = classes.map((c) => descriptions[c].length);
    const p = counts[0];
    const uneven = classes.filter((_, k) => counts[k] !== p);
    if (uneven.length > 0) {
      throw new PromptError(
        `descriptions must give every class the same number of texts (text features are [K, P, D]): ` +
          `"${classes[0]}" has ${p}, ${uneven.slice(0, 5).map((c) => `"${c}" has ${descriptions[c].length}`).join(', ')}`,
      );
    }
    return classes.map((c) => [...descriptions[c]]);
  }
  const templates = resolveTemplates(options.templates ?? 'imagenet80');
  // split/join rather than replace: a class name containing "$&" must stay literal.
  return classes.map((c) => templates.map((t) => t.split('{}').join(promptClassName(c))));
}
