from training_examples.jax_lejepa import main

if __name__ == "__main__":
    main()
