"""What `keras-embedx demo` does (its options: `keras_embedx_cli.demo`)."""


def run(args):
    """Run `keras-embedx demo` with the parsed `args`."""
    from keras_embedx import demo

    options = {"epochs": args.epochs, "folds": args.folds, "repeats": args.repeats}
    demo.run(
        vectors=args.vectors,
        corpus=args.corpus,
        encoding=args.encoding,
        output_dir=args.output_dir,
        seed=args.seed,
        **{k: v for k, v in options.items() if v is not None},
    )
    if args.chars:
        result = demo.word_char_demo(epochs=8, seed=args.seed, verbose=0)
        print(
            "word + char model (PretrainedEmbedding + CharEmbedding CNN): "
            f"train accuracy {result['train_accuracy']:.1%}, held-out accuracy "
            f"{result['test_accuracy']:.1%}; {result['test_words_unseen']:.1%} of "
            "held-out words were never seen in training and got vectors from "
            "their characters"
        )
