from training_examples.jax_lejepa.train import main

if __name__ == "__main__":
    main()
